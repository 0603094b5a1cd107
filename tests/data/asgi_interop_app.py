"""A pure ASGI middleware, a mounted hand-written ASGI app and a mounted WSGI app, served for real."""

from __future__ import annotations

import threading

from fastapi import FastAPI, Request
from fastapi.middleware.wsgi import WSGIMiddleware
from fastapi.responses import PlainTextResponse
from starlette.datastructures import MutableHeaders


class RequestIdMiddleware:
    def __init__(self, app, header: str = "x-request-id") -> None:
        self.app = app
        self.header = header

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/blocked":
            await PlainTextResponse("blocked", status_code=403)(scope, receive, send)
            return
        scope["state"]["client"] = scope["client"][0] if scope["client"] else None

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(self.header, "rid-1")
            await send(message)

        await self.app(scope, receive, send_wrapper)


async def echo_asgi(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for part in (scope["root_path"].encode(), b"|", scope["path"].encode(), b"|", body):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    worker = threading.current_thread() is not threading.main_thread()
    return [f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}|{environ['QUERY_STRING']}|thread={worker}".encode()]


app = FastAPI()
app.add_middleware(RequestIdMiddleware)
app.mount("/asgi", echo_asgi)
app.mount("/wsgi", WSGIMiddleware(wsgi_app))


@app.get("/items/{item_id}")
def read_item(item_id: int, request: Request):
    return {"item_id": item_id, "client": request.state.client}
