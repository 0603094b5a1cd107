"""The benchmark's four routes written for socketify's own API (not ASGI, not FastAPI): the reference
the issue's targets name ("socketify"), a Python server on uWebSockets with handlers called straight
from C. Each handler does the same work bench_app's does (JSON written per request, the path
parameter converted, the POST body validated by the same pydantic model), so the difference is the
server and the framework, not the work.

    .venv-peers/bin/python socketify_app.py PORT
"""

from __future__ import annotations

import json
import sys
from collections import deque

from pydantic import BaseModel
from socketify import App


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


def dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def plaintext(res, req) -> None:  # noqa: ANN001 - socketify's own objects
    res.send(b"Hello, World!", content_type=b"text/plain; charset=utf-8")


def json_route(res, req) -> None:  # noqa: ANN001
    res.send(dumps({"message": "Hello, World!"}), content_type=b"application/json")


def read_item(res, req) -> None:  # noqa: ANN001
    try:
        item_id = int(req.get_parameter(0))
    except (TypeError, ValueError):
        res.send(b'{"detail":"item_id"}', content_type=b"application/json", status=422)
        return
    res.send(dumps({"item_id": item_id, "q": req.get_query("q")}), content_type=b"application/json")


# socketify 0.0.31 calls a response's data handler through an ffi handle that can outlive the
# response object under load (a "Fatal Python error: b_from_handle ... garbage collected" with
# `await res.get_data()`): the last responses are kept alive here, a bounded window.
_recent: deque[object] = deque(maxlen=4096)


def create_item(res, req) -> None:  # noqa: ANN001
    _recent.append(res)
    chunks: list[bytes] = []

    def on_data(res, chunk, is_end) -> None:  # noqa: ANN001
        if chunk:
            chunks.append(chunk)
        if not is_end:
            return
        try:
            item = Item.model_validate_json(b"".join(chunks))
        except ValueError:
            res.send(b'{"detail":"invalid"}', content_type=b"application/json", status=422)
            return
        res.send(item.model_dump_json().encode(), content_type=b"application/json")

    res.on_data(on_data)


def main() -> None:
    port = int(sys.argv[1])
    app = App()
    app.get("/plaintext", plaintext)
    app.get("/json", json_route)
    app.get("/items/:item_id", read_item)
    app.post("/items", create_item)
    app.listen(port, lambda config: None)
    app.run()


if __name__ == "__main__":
    main()
