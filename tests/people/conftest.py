"""Fixtures for the participants' portal tests: a recording courier and small factories."""
from __future__ import annotations

import phonenumbers
import pytest

from config.settings import ParticipantPortalSettings
from db.models import PhoneKind
from participants.verification import VerificationService


class RecordingCourier:
    """A CodeCourier that keeps what it would send, so a test can read the code."""

    def __init__(self):
        self.sent = []

    def send_code(self, session, participant, purpose, method, target, code, link):
        self.sent.append({"participant": participant.id, "purpose": purpose, "method": method,
                          "target": target, "code": code, "link": link})

    def last(self, target=None):
        for item in reversed(self.sent):
            if target is None or item["target"] == target:
                return item
        raise AssertionError(f"nothing sent to {target}")


def parse_phone(raw: str) -> tuple[str, PhoneKind]:
    """Test stand-in with the same contract as the participants core's parser."""
    number = phonenumbers.parse(raw, "NL")
    if not phonenumbers.is_valid_number(number):
        raise ValueError("ongeldig nummer")
    kind = (
        PhoneKind.MOBILE
        if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        else PhoneKind.LANDLINE
    )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind


def geocode_delft(session, address) -> None:
    """Test stand-in geocoder: every address lands in the centre of Delft."""
    from db.models import GeocodeStatus

    address.lat, address.lon, address.municipality = 52.0116, 4.3571, "Delft"
    address.geocode_status = GeocodeStatus.OK


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
