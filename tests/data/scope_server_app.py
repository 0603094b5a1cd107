"""scope["server"] as the app sees it (tests/integration/test_scope_server.py): through ASGI, in the
exception handler of a compiled route, and in a WebSocket scope."""

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse

app = FastAPI()


class Boom(Exception):
    pass


@app.exception_handler(Boom)
async def on_boom(request: Request, exc: Boom) -> JSONResponse:
    return JSONResponse({"server": request.scope["server"], "handler": True})


@app.get("/asgi")
async def asgi(request: Request) -> dict[str, object]:  # a Request parameter: served through ASGI
    return {"server": request.scope["server"]}


@app.get("/compiled")
async def compiled() -> dict[str, object]:  # compiled to a native plan; its error goes to on_boom
    raise Boom()


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"server": websocket.scope["server"]})
    await websocket.close()
