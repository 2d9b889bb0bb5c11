"""The migration that names the hidden delivery sub-states maps existing rows and their events."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from db.database import alembic_config

BEFORE = "d7b2e4f6a813"  # the revision before leaving_message and sending existed
AT = "2026-01-01 10:00:00"

# id: (state, channel, finished_at, claimed_by) as the old code left them
ROWS = {
    1: ("machine", "voice", None, "worker-1"),  # the machine is still listening
    2: ("machine", "voice", AT, None),  # the message was left
    3: ("queued", "sms", None, "worker-1"),  # claimed, being sent
    4: ("queued", "email", None, None),  # waiting
    5: ("queued", "voice", None, None),
    6: ("sent", "sms", AT, None),
}
EVENTS = [
    (1, "call.machine", "ringing", "machine"),
    (2, "call.machine", "ringing", "machine"),
    (2, "call.machine_message_left", "machine", "machine"),
    (2, "retry.scheduled", "machine", "queued"),
]


def _states(conn) -> dict[int, str]:
    return dict(conn.execute(text("SELECT id, state FROM delivery")).all())


def _events(conn) -> list[tuple]:
    return [
        tuple(row)
        for row in conn.execute(
            text("SELECT delivery_id, event, from_state, to_state FROM delivery_event ORDER BY id")
        )
    ]


def test_hidden_sub_states_become_states_and_back(db):
    config = alembic_config(db.url)
    command.downgrade(config, BEFORE)
    try:
        with db.engine.begin() as conn:
            for delivery_id, (state, channel, finished, claimed) in ROWS.items():
                conn.execute(
                    text(
                        "INSERT INTO delivery (id, kind, channel, target, rank, priority, state, "
                        "attempts, acknowledged, transfer_requested, opt_out_requested, menu_choices, "
                        "created_at, updated_at, finished_at, claimed_by) VALUES (:id, 'outcome', "
                        ":channel, :target, 0, 0, :state, 1, false, false, false, '', :at, :at, "
                        ":finished, :claimed)"
                    ),
                    {
                        "id": delivery_id,
                        "channel": channel,
                        "target": f"+3161234500{delivery_id}",
                        "state": state,
                        "at": AT,
                        "finished": finished,
                        "claimed": claimed,
                    },
                )
            for delivery_id, event, from_state, to_state in EVENTS:
                conn.execute(
                    text(
                        "INSERT INTO delivery_event (delivery_id, at, event, from_state, to_state, "
                        "detail) VALUES (:d, :at, :e, :f, :t, '{}')"
                    ),
                    {"d": delivery_id, "at": AT, "e": event, "f": from_state, "t": to_state},
                )

        command.upgrade(config, "head")
        with db.engine.connect() as conn:
            assert _states(conn) == {
                1: "leaving_message",
                2: "machine",
                3: "sending",
                4: "queued",
                5: "queued",
                6: "sent",
            }
            # The events survive the table rebuild, in the new vocabulary.
            assert _events(conn) == [
                (1, "call.machine", "ringing", "leaving_message"),
                (2, "call.machine", "ringing", "leaving_message"),
                (2, "call.machine_message_left", "leaving_message", "machine"),
                (2, "retry.scheduled", "machine", "queued"),
            ]

        command.downgrade(config, BEFORE)
        with db.engine.connect() as conn:
            assert _states(conn) == {i: state for i, (state, *_rest) in ROWS.items()}
            assert _events(conn) == EVENTS
            assert conn.execute(text("SELECT finished_at FROM delivery WHERE id = 1")).scalar() is None
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM delivery_event"))
            conn.execute(text("DELETE FROM delivery"))
        command.upgrade(config, "head")
