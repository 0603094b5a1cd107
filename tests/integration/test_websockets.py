"""WebSockets on a real server (tests/data/ws_app.py): the handshake and RFC 6455 framing over a
raw socket (the C++ core parses the frames), plus the `websockets` client library when installed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from .conftest import Server, start_server

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# The largest message accepted (uvicorn's --ws-max-size default, 16 MiB): beyond it, close 1009.
MAX_MESSAGE = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def ws_server() -> Iterator[Server]:
    s = start_server("ws_app:app")
    yield s
    s.stop()


# ---- a minimal client ------------------------------------------------------------------------


def handshake_bytes(path: str, key: bytes, extra: str = "", version: str = "13") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n"
    ).encode()


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0) -> bytes:
    first = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, (0x80 if mask else 0) | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    mask = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    masked = (int.from_bytes(payload, "big") ^ mask).to_bytes(n, "big") if n else b""
    return head + key + masked


class Client:
    def __init__(self, port: int, path: str, extra: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.key = base64.b64encode(os.urandom(16))
        self.sock.sendall(handshake_bytes(path, self.key, extra))
        head, self.buf = read_head(self.sock)
        self.head = head.decode("latin-1")
        self.status = int(self.head.split(" ", 2)[1])

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == name.lower():
                return v.strip()
        return None

    def send(self, opcode: int, payload: bytes, **kw: object) -> None:
        self.sock.sendall(frame(opcode, payload, **kw))  # type: ignore[arg-type]

    def _need(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed with {len(self.buf)} of {n} bytes")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self) -> tuple[int, bool, bytes]:
        b0, b1 = self._need(2)
        assert not b1 & 0x80, "server frames are not masked"
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._need(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._need(8))
        return b0 & 0x0F, bool(b0 & 0x80), self._need(n)

    def recv_close(self) -> tuple[int, str]:
        op, _, payload = self.recv_frame()
        assert op == 8, (op, payload)
        code = struct.unpack("!H", payload[:2])[0] if payload else 1005
        return code, payload[2:].decode()

    def at_eof(self) -> bool:
        self.sock.settimeout(5)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


# ---- the handshake ---------------------------------------------------------------------------


def test_handshake_101_and_accept_value(ws_server: Server) -> None:
    c = Client(ws_server.port, "/echo")
    assert c.status == 101, c.head
    expected = base64.b64encode(hashlib.sha1(c.key + GUID).digest()).decode()
    assert c.header("sec-websocket-accept") == expected
    assert c.header("upgrade").lower() == "websocket"
    assert c.header("connection").lower() == "upgrade"
    c.close()


def test_params_depends_subprotocol_and_close_reason(ws_server: Server) -> None:
    c = Client(ws_server.port, "/items/5?token=abc", "Sec-WebSocket-Protocol: chat, other\r\n")
    assert c.status == 101, c.head
    assert c.header("sec-websocket-protocol") == "chat"
    op, fin, payload = c.recv_frame()
    assert (op, fin) == (1, True)
    assert json.loads(payload) == {"item_id": 5, "token": "abc", "url": "ws://test/items/5?token=abc"}
    c.send(1, b"bye")
    assert c.recv_close() == (4000, "done bye")
    assert c.at_eof()


def test_refused_handshakes(ws_server: Server) -> None:
    assert Client(ws_server.port, "/items/5").status == 403  # WebSocketException before accept
    assert Client(ws_server.port, "/items/x?token=a").status == 403  # validation error before accept
    assert Client(ws_server.port, "/reject").status == 403  # close before accept
    assert Client(ws_server.port, "/missing").status == 403  # no route (Starlette's router)
    assert Client(ws_server.port, "/plain").status == 403  # an HTTP route


def test_bad_handshakes(ws_server: Server) -> None:
    def status_of(raw: bytes) -> int:
        with socket.create_connection(("127.0.0.1", ws_server.port), timeout=10) as s:
            s.sendall(raw)
            head, _ = read_head(s)
            return int(head.split(b" ", 2)[1])

    key = base64.b64encode(os.urandom(16))
    assert status_of(handshake_bytes("/echo", b"short")) == 400
    assert status_of(handshake_bytes("/echo", key, version="8")) == 426
    assert status_of(handshake_bytes("/echo", key).replace(b"Connection: Upgrade", b"Connection: keep-alive")) == 400
    assert status_of(handshake_bytes("/echo", key).replace(b"HTTP/1.1", b"HTTP/1.0")) == 400
    # A plain GET to a websocket route is an HTTP request: no route answers it.
    assert status_of(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n") == 404


# ---- framing ---------------------------------------------------------------------------------


def test_text_binary_and_fragments(ws_server: Server) -> None:
    c = Client(ws_server.port, "/echo")
    c.send(1, "héllo".encode())
    assert c.recv_frame() == (1, True, "héllo".encode())
    c.send(2, b"\x00\xff" * 20000)  # a 16-bit length
    assert c.recv_frame() == (2, True, b"\x00\xff" * 20000)
    c.send(2, b"\x01" * 200_000)  # a 64-bit length
    assert c.recv_frame() == (2, True, b"\x01" * 200_000)
    # A fragmented text message with a ping between its fragments (control frames may interleave).
    c.send(1, b"frag", fin=False)
    c.send(9, b"are you there")
    c.send(0, b"men", fin=False)
    c.send(0, b"ted")
    assert c.recv_frame() == (10, True, b"are you there")  # the pong comes first
    assert c.recv_frame() == (1, True, b"fragmented")
    # The same bytes split one by one.
    data = frame(1, b"slow")
    for i in range(len(data)):
        c.sock.sendall(data[i : i + 1])
        time.sleep(0.001)
    assert c.recv_frame() == (1, True, b"slow")
    c.send(8, struct.pack("!H", 1000) + b"client done")
    assert c.recv_close() == (1000, "")
    assert c.at_eof()


def test_client_close_code_reaches_the_app(ws_server: Server) -> None:
    c = Client(ws_server.port, "/closes")
    c.send(1, b"x")
    c.send(8, struct.pack("!H", 4321))
    assert c.recv_close()[0] == 4321
    c.close()
    c2 = Client(ws_server.port, "/closes")
    c2.sock.close()  # no close frame: 1006
    import httpx

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        closes = httpx.get(ws_server.url + "/closes").json()
        if 1006 in closes:
            break
        time.sleep(0.05)
    assert 4321 in closes and 1006 in closes


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (frame(1, b"unmasked", mask=False), 1002),
        (frame(1, b"rsv", rsv=0x40), 1002),
        (frame(3, b"reserved opcode"), 1002),
        (frame(0, b"continuation without a message"), 1002),
        (frame(9, b"fragmented ping", fin=False), 1002),
        (frame(9, b"p" * 126), 1002),
        (frame(1, b"\xff\xfe"), 1007),
        (frame(1, b"first", fin=False) + frame(1, b"second"), 1002),
        (frame(8, struct.pack("!H", 1005)), 1002),
        (frame(8, b"\x03"), 1002),
        (frame(1, b"x" * (MAX_MESSAGE + 1)), 1009),
        (frame(1, b"x" * (MAX_MESSAGE // 2 + 10), fin=False) + frame(0, b"x" * (MAX_MESSAGE // 2 + 10)), 1009),
    ],
    ids=["unmasked", "rsv", "opcode", "orphan-cont", "frag-ping", "big-ping", "utf8", "nested", "close-1005",
         "close-1byte", "too-big", "too-big-fragments"],
)
def test_protocol_errors_close_with_code(ws_server: Server, raw: bytes, code: int) -> None:
    c = Client(ws_server.port, "/echo")
    c.sock.sendall(raw)
    assert c.recv_close()[0] == code
    assert c.at_eof()


def test_oversized_header_is_refused_before_the_payload(ws_server: Server) -> None:
    c = Client(ws_server.port, "/echo")
    c.sock.sendall(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 40) + os.urandom(4))  # 1 TiB announced
    assert c.recv_close()[0] == 1009
    assert c.at_eof()


def test_large_output_with_a_slow_reader(ws_server: Server) -> None:
    c = Client(ws_server.port, "/burst/40")  # 4 MB of messages: send() waits for the output to drain
    time.sleep(0.3)
    got = 0
    while True:
        op, _, payload = c.recv_frame()
        if op == 8:
            break
        assert payload == b"x" * 100_000
        got += 1
    assert got == 40


def test_http_keeps_working_alongside(ws_server: Server) -> None:
    import httpx

    assert httpx.get(ws_server.url + "/plain").json() == {"http": True}


# ---- a real client library -------------------------------------------------------------------


def test_websockets_library_client(ws_server: Server) -> None:
    websockets = pytest.importorskip("websockets")
    from websockets.asyncio.client import connect

    async def main() -> None:
        async with connect(f"ws://127.0.0.1:{ws_server.port}/echo", max_size=None) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x01" * 200_000)
            assert await ws.recv() == b"\x01" * 200_000
            await ws.send(["frag", "mented"])  # a fragmented message
            assert await ws.recv() == "fragmented"
            await ws.ping()
        async with connect(f"ws://127.0.0.1:{ws_server.port}/items/9?token=z", subprotocols=["chat"]) as ws:
            assert ws.subprotocol == "chat"
            assert json.loads(await ws.recv())["item_id"] == 9
            await ws.send("x")
            with pytest.raises(websockets.ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd.code == 4000 and info.value.rcvd.reason == "done x"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{ws_server.port}/items/9"):
                pass
        assert refused.value.response.status_code == 403

    asyncio.run(main())
