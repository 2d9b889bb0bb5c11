"""Helpers for the dialer tests: a control room, actions and delivery rows made directly."""

from __future__ import annotations

import pytest

from db.models import ControlRoom


@pytest.fixture
def room(db):
    with db.session() as s:
        room = ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden", transfer_target="+31701234567")
        s.add(room)
        s.commit()
        return room
