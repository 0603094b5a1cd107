"""A served app whose lifespan rebuilds a route and adds one: the engine is built after startup."""

from __future__ import annotations

import httpx

from .conftest import start_server


def test_routes_rebuilt_and_added_by_the_lifespan_are_served() -> None:
    server = start_server("lifespan_rebuild_app:app")
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/items", params={"n": 2, "tag": "x"}).json() == {"n": 2, "tag": "x"}
            assert client.get("/items").json() == {"n": 1, "tag": "default"}
            assert client.get("/late").json() == {"late": True}
    finally:
        server.stop()
