"""The ASGI path retains nothing per request: after N requests over concurrent keep-alive
connections, the live `Wire` and `Future` objects (gc.get_objects() after gc.collect(), in the
server) do not grow with N. On PyPy they did (one Future with its Wire response per request) while
a handler's first step ran inline in _runtime.start_task; FASTERAPI_TEST_HANDOFF=1 runs PyPy's path
(the first step handed to the worker task) on CPython too."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .conftest import start_server

CONNECTIONS = 16


def _load(url: str, per_connection: int) -> None:
    def one() -> None:
        with httpx.Client(base_url=url) as client:  # one keep-alive connection
            for _ in range(per_connection):
                r = client.get("/json")
                assert (r.status_code, r.json()) == (200, {"message": "Hello, World!"})

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        for f in [pool.submit(one) for _ in range(CONNECTIONS)]:
            f.result()


@pytest.mark.parametrize("handoff", ["0", "1"])
def test_asgi_path_retains_no_response_per_request(handoff: str) -> None:
    server = start_server("asgi_retention_app:app", env={"FASTERAPI_TEST_HANDOFF": handoff})
    try:
        _load(server.url, 20)  # warm: the worker pool reaches its size
        first = httpx.get(server.url + "/_live").json()
        _load(server.url, 60)  # 960 more requests
        second = httpx.get(server.url + "/_live").json()
    finally:
        server.stop()
    # At most one parked worker's last response per connection may stay; nothing per request.
    assert second["Wire"] <= first["Wire"] + CONNECTIONS, (first, second)
    assert second["Future"] <= first["Future"] + 2 * CONNECTIONS, (first, second)
    assert second["_Exchange"] <= first["_Exchange"] + CONNECTIONS, (first, second)
