"""Fixtures for the console tests: a control room with operators of every role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from console_testing import PASSWORD, csrf_from, login
from werkzeug.security import generate_password_hash

from db.models import ControlRoom, Operator, Role


@dataclass
class Staff:
    control_room_id: int
    centralist_id: int
    supervisor_id: int
    admin_id: int


@pytest.fixture
def app(settings, clock):
    from app import create_app

    settings.web.map_tiles_url = ""
    application = create_app(settings)
    application.config["TESTING"] = True
    application.extensions["burgernet.clock"] = clock
    yield application
    application.extensions["burgernet.db"].dispose()


@pytest.fixture
def staff(db) -> Staff:
    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    with db.transaction() as s:
        room = ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden", transfer_target="+31703456789")
        s.add(room)
        s.flush()
        ids = {}
        for role in Role:
            op = Operator(
                username=role.value,
                display_name=role.value.title(),
                password_hash=hashed,
                role=role,
                control_room_id=room.id,
                transfer_target="+31701234567",
            )
            s.add(op)
            s.flush()
            ids[role] = op.id
    return Staff(room.id, ids[Role.CENTRALIST], ids[Role.SUPERVISOR], ids[Role.ADMIN])


@pytest.fixture
def logged_in(client, staff):
    """A client logged in as the centralist; returns (client, csrf token)."""
    response = login(client, "centralist")
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    return client, csrf_from(page)
