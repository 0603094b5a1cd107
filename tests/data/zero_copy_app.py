"""Large bodies sent by reference (engine zero_copy_min=0), for tests/integration/test_zero_copy.py."""

from fasterapi import FasterAPI
from fasterapi.responses import PlainTextResponse, Response

app = FasterAPI()
app.engine_options["zero_copy_min"] = 0

BIG = bytes(range(256)) * 8192  # 2 MiB: more than the socket buffers take at once
TEXT = "é" * 300_000


@app.get("/big")
def big():
    return Response(BIG, media_type="application/octet-stream")


@app.get("/text")
def text():
    return PlainTextResponse(TEXT)


@app.get("/small")
def small():
    return Response(b"small", media_type="text/plain")


@app.get("/big-static", static=True)
def big_static():
    return Response(BIG, media_type="application/octet-stream")
