"""The FastAGI server's limits: idle and slow peers are dropped, lines are bounded in length,
sessions are capped; none of it stops a real call."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc

import pytest
from fake_asterisk import FakeChannel
from ivr_seed import seed_all

from ivr.fastagi import build_server

HEADERS = b"agi_network: yes\nagi_network_script: alert\nagi_uniqueid: 1764338400.9\nagi_version: 22.0.0\n\n"
TWENTY_MB = 20 * 1024 * 1024


@pytest.fixture
def limited(agi_settings, db, clock):
    """Starts a FastAGI server with some `asterisk.fastagi_*` settings changed."""
    started = []

    def start(**limits):
        asterisk = agi_settings.asterisk.model_copy(update={f"fastagi_{k}": v for k, v in limits.items()})
        settings = agi_settings.model_copy(update={"asterisk": asterisk})
        srv = build_server(settings, db, clock, "127.0.0.1", 0)
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        started.append((srv, thread))
        return srv

    yield start
    for srv, thread in started:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def connect(srv) -> socket.socket:
    return socket.create_connection(srv.server_address[:2], timeout=10)


def closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """True when the server closes the connection within `within_s` (commands are read and ignored)."""
    sock.settimeout(within_s)
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def wait_until(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def alert_call(srv, delivery_id: int) -> FakeChannel:
    host, port = srv.server_address[:2]
    return FakeChannel(
        host,
        port,
        "alert",
        variables={"BURGERNET_DELIVERY_ID": str(delivery_id), "BURGERNET_AMD": "HUMAN"},
        presses=["1", "3"],
    )


def test_fifty_idle_connections_are_closed_and_do_not_block_a_call(limited, db, caplog):
    seeded = seed_all(db)
    srv = limited(header_timeout_s=1.0)
    with caplog.at_level("INFO", logger="ivr.fastagi"):
        opened = time.monotonic()
        idle = [connect(srv) for _ in range(50)]
        assert wait_until(lambda: srv.sessions == 50)
        call = alert_call(srv, seeded.delivery_id)
        commands = call.run()
        assert commands[-1] == "HANGUP"
        assert wait_until(lambda: srv.outcomes == {"completed": 1})
        assert all(closed_by_server(sock, 5.0) for sock in idle)
        closed = time.monotonic() - opened
        assert wait_until(lambda: srv.sessions == 0)
    for sock in idle:
        sock.close()
    assert closed < 4.0  # the header timeout (1 s), not the peer, ends an idle connection
    dropped = [r.getMessage() for r in caplog.records if "fastagi.bad_connection" in r.getMessage()]
    assert len(dropped) == 50 and all("PeerTooSlow" in m for m in dropped)


def test_a_peer_that_trickles_bytes_meets_the_deadline_all_the_same(limited):
    srv = limited(header_timeout_s=1.0)
    sock = connect(srv)
    started = time.monotonic()
    try:
        for byte in b"agi_network: yes":  # one byte every 0.2 s: each read is quick, the line is not
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed_by_server(sock, 3.0)
    assert time.monotonic() - started < 3.0
    sock.close()


def test_a_command_left_unanswered_drops_the_call(limited, db, caplog):
    srv = limited(command_timeout_s=0.5)
    with caplog.at_level("INFO", logger="ivr.fastagi"):
        sock = connect(srv)
        sock.sendall(HEADERS)
        started = time.monotonic()
        assert closed_by_server(sock, 5.0)  # GET VARIABLE BURGERNET_DELIVERY_ID, never answered
        assert time.monotonic() - started < 3.0
        assert wait_until(lambda: srv.outcomes == {"dropped": 1})
    sock.close()
    assert any(
        "fastagi.dropped" in r.getMessage() and "PeerTooSlow" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize("where", ["header", "reply"])
def test_a_twenty_megabyte_line_is_refused_without_memory_growth(where, limited, db, caplog):
    srv = limited(max_line_bytes=8192)
    chunk = b"x" * 65536
    sent = 0
    with caplog.at_level("INFO", logger="ivr.fastagi"):
        sock = connect(srv)
        if where == "reply":
            sock.sendall(HEADERS)
            sock.settimeout(5)
            assert sock.recv(4096).startswith(b"GET VARIABLE")
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            try:
                while sent < TWENTY_MB:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert closed_by_server(sock, 5.0)
            assert wait_until(lambda: srv.sessions == 0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        sock.close()
    # Python allocations of the whole process (server threads included) while the line came in:
    # the server keeps at most one line plus a chunk; the old reader kept all 20 MB.
    assert peak - before < 1024 * 1024, (peak - before, sent)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "LineTooLong" in messages
    assert ("fastagi.bad_connection" if where == "header" else "fastagi.dropped") in messages


def test_too_many_header_lines_are_refused(limited, caplog):
    srv = limited(max_header_lines=20)
    with caplog.at_level("INFO", logger="ivr.fastagi"):
        sock = connect(srv)
        try:
            sock.sendall(b"".join(b"agi_x%d: y\n" % i for i in range(1000)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert closed_by_server(sock, 5.0)
        sock.close()
        assert wait_until(lambda: srv.sessions == 0)
    assert any("more than 20 header lines" in r.getMessage() for r in caplog.records)


def test_connections_beyond_the_cap_are_refused_and_logged(limited, db, caplog):
    seeded = seed_all(db)
    srv = limited(max_sessions=3, header_timeout_s=1.0)
    with caplog.at_level("INFO", logger="ivr.fastagi"):
        idle = [connect(srv) for _ in range(3)]
        assert wait_until(lambda: srv.sessions == 3)
        extra = connect(srv)
        started = time.monotonic()
        assert closed_by_server(extra, 5.0)
        assert time.monotonic() - started < 0.5  # refused at once, not after the timeout
        assert srv.refused == 1
        assert all(closed_by_server(sock, 5.0) for sock in idle)
        assert wait_until(lambda: srv.sessions == 0)
        call = alert_call(srv, seeded.delivery_id)  # room again: a real call goes through
        assert call.run()[-1] == "HANGUP"
        assert wait_until(lambda: srv.outcomes == {"completed": 1})
    for sock in [*idle, extra]:
        sock.close()
    assert any("fastagi.refused" in r.getMessage() for r in caplog.records)
