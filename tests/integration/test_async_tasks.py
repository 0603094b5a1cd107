"""On a served engine every async handler runs in an asyncio task of its own from its first step
(a parked worker's identity, fasterapi._runtime.start_task): anyio, asyncio.timeout and
httpx.AsyncClient work before the first await, a cancel scope spans awaits, and contextvars set
by one request never reach another."""

from __future__ import annotations

import httpx
import pytest

from .conftest import Server, start_server


@pytest.fixture(scope="module")
def server():
    s = start_server("async_app:app")
    yield s
    s.stop()


@pytest.mark.parametrize("path", ["/lock", "/timeout", "/scope"])
def test_code_that_needs_a_task(server: Server, path: str) -> None:
    r = httpx.get(server.url + path)
    assert (r.status_code, r.json()) == (200, {"ok": True})


def test_thread_offload_and_cancel_scopes(server: Server) -> None:
    assert httpx.get(server.url + "/thread").json() == {"v": 42}
    assert httpx.get(server.url + "/moved", timeout=5).json() == {"cancelled": True}
    assert httpx.get(server.url + "/identity").json() == {"same": True}


def test_httpx_async_client_inside_a_handler(server: Server) -> None:
    r = httpx.get(server.url + f"/proxy?port={server.port}", timeout=10)
    assert r.json() == {"upstream": {"ok": True}}


def test_contextvars_do_not_leak_between_requests(server: Server) -> None:
    with httpx.Client(base_url=server.url) as client:  # one keep-alive connection
        assert client.get("/context?v=first").json() == {"seen_at_start": "unset", "now": "first"}
        assert client.get("/context").json() == {"seen_at_start": "unset", "now": "unset"}
        assert client.get("/sync-context?v=mine").json() == {"seen_at_start": "unset"}
        assert client.get("/sync-context").json() == {"seen_at_start": "unset"}  # sync handlers too


def test_inline_async_option_keeps_the_old_behaviour(serve) -> None:  # type: ignore[no-untyped-def]
    s = serve("async_app:app", "--inline-async")
    assert httpx.get(s.url + "/plain").json() == {"ok": True}
    assert httpx.get(s.url + "/timeout").status_code == 500  # no current task before the first await


def test_a_context_token_set_before_an_await_resets_after_it(server: Server) -> None:
    with httpx.Client(base_url=server.url) as client:  # one keep-alive connection
        for v in ("a", "b"):
            assert client.get(f"/token?v={v}").json() == {"now": v, "after_reset": "unset", "task": True}


def test_pipelined_handlers_each_in_a_task(server: Server) -> None:
    """Pipelined requests: some finish in their first step, some await (the next request's first
    step then runs from the previous one's completion)."""
    import socket

    raw = b"".join(f"GET /pipelined?n={n} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for n in range(8))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while data.count(b'"task":true}') < 8:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    for n in range(8):
        assert f'{{"n":{n},"task":true}}'.encode() in data
