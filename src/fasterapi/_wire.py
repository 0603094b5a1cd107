"""The engine's response bytes read back by in-memory callers (TestClient, the app as an ASGI app)."""

from __future__ import annotations


def parse_response(raw: bytes, lower_names: bool = False) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of the final response in `raw` (interim 1xx skipped), as an ASGI
    server's in-memory caller (Starlette's TestClient, httpx's ASGITransport) sees it: a chunked
    (streamed) body de-chunked and its Transfer-Encoding header dropped, and the engine's own
    Date and Server lines dropped (a server adds them on the wire; the app did not send them, and
    suites compare the headers they get with what the app set: cadwyn's)."""
    while True:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            raise RuntimeError(f"incomplete response from the engine: {raw[:200]!r}")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        if 100 <= status < 200:  # interim (100 Continue): the final response follows
            raw = rest
            continue
        headers = []
        length = None
        chunked = False
        for line in _without_server_lines(lines[1:]):
            name, _, value = line.partition(b":")
            value = value.strip()
            lname = name.lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding":
                chunked = True
                continue
            headers.append((lname if lower_names else name, value))
        if chunked:
            return status, headers, dechunk(rest)
        return status, headers, rest if length is None else rest[:length]


# The engine writes its Date (an IMF-fixdate, 29 bytes) and Server lines first, in this spelling;
# headers the app sets come after them (Starlette's are lower-case).
_DATE_LINE = len(b"Date: ") + 29


def _without_server_lines(lines: list[bytes]) -> list[bytes]:
    start = 0
    if start < len(lines) and lines[start].startswith(b"Date: ") and len(lines[start]) == _DATE_LINE:
        start += 1
    if start < len(lines) and lines[start] == b"Server: fasterapi":
        start += 1
    return lines[start:]


def dechunk(data: bytes) -> bytes:
    """A chunked body (possibly cut short by a failing stream: what arrived)."""
    parts = []
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            break
        size = int(data[pos:eol].split(b";")[0], 16)
        if size == 0:
            break
        parts.append(data[eol + 2 : eol + 2 + size])
        pos = eol + 2 + size + 2
    return b"".join(parts)
