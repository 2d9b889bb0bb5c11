"""Who may run a call on the FastAGI server: only the PBXs on the allow-list, and for a delivery
only the channel whose uniqueid is the call id the dialer stored for it."""

from __future__ import annotations

import socket
import threading

import pytest
from fake_asterisk import FakeChannel
from ivr_seed import seed_all
from test_fastagi import wait_for_outcomes

from db.models import Delivery, Participant, ParticipantStatus
from ivr.fastagi import allowed_networks, build_server, peer_allowed


@pytest.fixture
def quick_settings(agi_settings):
    asterisk = agi_settings.asterisk.model_copy(update={"fastagi_call_id_wait_s": 0.3})
    return agi_settings.model_copy(update={"asterisk": asterisk})


def serve(settings, db, clock):
    srv = build_server(settings, db, clock, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def stop(srv) -> None:
    srv.shutdown()
    srv.server_close()


def test_a_peer_outside_the_allow_list_is_closed_before_a_word(quick_settings, db, clock):
    asterisk = quick_settings.asterisk.model_copy(update={"fastagi_allowed_peers": ["10.1.2.0/24"]})
    srv = serve(quick_settings.model_copy(update={"asterisk": asterisk}), db, clock)
    try:
        with socket.create_connection(srv.server_address[:2], timeout=5) as sock:
            sock.sendall(b"agi_network: yes\nagi_network_script: alert\n\n")
            assert sock.recv(100) == b""  # closed, no command sent
        assert srv.refused_peers == 1 and srv.status()["refused_peers"] == 1
        assert sum(srv.outcomes.values()) == 0
    finally:
        stop(srv)


def test_allow_list_matching():
    networks = allowed_networks(["127.0.0.1/32", "10.0.0.0/8", "::1/128"])
    assert peer_allowed("127.0.0.1", networks) and peer_allowed("10.9.8.7", networks)
    assert peer_allowed("::ffff:10.0.0.1", networks) and peer_allowed("::1", networks)
    assert not peer_allowed("127.0.0.2", networks) and not peer_allowed("192.168.1.1", networks)
    assert not peer_allowed("not-an-address", networks)


@pytest.mark.parametrize("uniqueid", ["bn-1-guessedid", "1764338400.42"], ids=["guessed", "inbound"])
def test_a_channel_that_is_not_the_deliverys_call_is_refused_before_any_effect(
    uniqueid, quick_settings, db, clock
):
    seeded = seed_all(db)
    srv = serve(quick_settings, db, clock)
    try:
        host, port = srv.server_address[:2]
        call = FakeChannel(
            host,
            port,
            "alert",
            uniqueid=uniqueid.replace("-1-", f"-{seeded.delivery_id}-"),
            variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id), "BURGERNET_AMD": "HUMAN"},
            presses=["9", "1"],  # would opt the participant out
        )
        commands = call.run()
        assert wait_for_outcomes(srv, 1) == {"refused": 1}
    finally:
        stop(srv)
    assert "SET CONTEXT burgernet-fallback" in commands
    assert not call.played() and not call.sent("WAIT FOR DIGIT")
    with db.session() as s:
        assert s.get(Participant, seeded.participant_id).status == ParticipantStatus.ACTIVE
        delivery = s.get(Delivery, seeded.delivery_id)
        assert not delivery.transfer_requested and not delivery.opt_out_requested


def test_the_call_waits_briefly_for_the_dialer_to_store_its_id(quick_settings, db, clock):
    seeded = seed_all(db)
    with db.transaction() as s:
        s.get(Delivery, seeded.delivery_id).provider_id = None  # the originate batch not yet stored
    srv = serve(quick_settings, db, clock)

    def dialer_stores_it() -> None:
        with db.transaction() as s:
            s.get(Delivery, seeded.delivery_id).provider_id = f"bn-{seeded.delivery_id}-fakechanne"

    try:
        host, port = srv.server_address[:2]
        call = FakeChannel(
            host, port, "alert", variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id)}, presses=["3"]
        )
        threading.Timer(0.1, dialer_stores_it).start()
        call.run()
        assert wait_for_outcomes(srv, 1) == {"completed": 1}
    finally:
        stop(srv)
