"""WebSocket routes served by a real server (tests/integration/test_websockets.py)."""

from fastapi import Depends, FastAPI, Query, WebSocket, WebSocketDisconnect, WebSocketException, status

app = FastAPI()


@app.get("/plain")
def plain():
    return {"http": True}


@app.websocket("/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        pass


async def token(token: str | None = Query(None)) -> str:
    if token is None:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
    return token


@app.websocket("/items/{item_id}")
async def items(websocket: WebSocket, item_id: int, t: str = Depends(token)):
    await websocket.accept(subprotocol=(websocket.scope["subprotocols"] or [None])[0])
    await websocket.send_json({"item_id": item_id, "token": t, "url": str(websocket.url)})
    data = await websocket.receive_text()
    await websocket.close(code=4000, reason=f"done {data}")


@app.websocket("/reject")
async def reject(websocket: WebSocket):
    await websocket.close()


closes: list[int] = []


@app.websocket("/closes")
async def record_close(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect as exc:
        closes.append(exc.code)


@app.get("/closes")
def get_closes():
    return closes


@app.websocket("/burst/{n}")
async def burst(websocket: WebSocket, n: int):
    await websocket.accept()
    payload = "x" * 100_000
    for _ in range(n):
        await websocket.send_text(payload)
    await websocket.close()
