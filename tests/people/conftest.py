"""Fixtures for the participants' portal tests."""

from __future__ import annotations

import pytest
from people_helpers import RecordingCourier

from config.settings import ParticipantPortalSettings
from participants.verification import VerificationService


@pytest.fixture
def policy() -> ParticipantPortalSettings:
    return ParticipantPortalSettings()


@pytest.fixture
def courier() -> RecordingCourier:
    return RecordingCourier()


@pytest.fixture
def verifier_for(clock, policy, courier):
    def make(session):
        return VerificationService(session, clock, policy, key="k" * 32, courier=courier)

    return make
