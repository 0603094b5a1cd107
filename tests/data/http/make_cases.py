"""Generates cases.jsonl (run: python tests/data/http/make_cases.py).

Same format as the shared corpus (/work/shared/http-corpus/README.md), plus optional keys read by
tests/native/test_http_corpus.py:
  expect   also "status:N" (first final status is N), "statuses:A,B" (all final statuses),
           "none" (no response at all)
  checks   {"closed": bool (closed before EOF), "echo": [...] (echo bodies, in order),
            "continue": N (100 Continue count when sent as segmented), "continue_max": N,
            "head_only": [...], "conn_close": [...] ("Connection: close" per response),
            "served": N, "max_output": N, "contains": [...]}
  limits   Limits overrides for the connection; flags: 1 = Pending responses, 2 = peer not reading
  segments may hold {"op": "drain"} (set_draining) or {"op": "fail", "status": N} (socket deadline)
The echo body is "ECHO <METHOD> <path> len=<body bytes> host=<Host>"; "/limit/N" sets the body
limit of a request to N.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

CASES: list[dict] = []
_counters: dict[str, int] = {}


def req(method="GET", target="/", version="HTTP/1.1", headers=None, body=b"", host="a") -> bytes:
    lines = [f"{method} {target} {version}".encode("latin-1")]
    if host is not None:
        lines.append(b"Host: " + host.encode("latin-1"))
    for h in headers or []:
        lines.append(h if isinstance(h, bytes) else h.encode("latin-1"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def seg(x) -> dict:
    if isinstance(x, dict):
        return x
    text = x.decode("latin-1")
    if len(text) > 300:
        text = text[:150] + "..." + text[-60:]
    return {"b64": base64.b64encode(x).decode(), "text": text, "pause_s": 0}


def add(prefix: str, group: str, data, expect: str, rule: str = "", correct: str = "", **extra) -> None:
    _counters[prefix] = _counters.get(prefix, 0) + 1
    segments = data if isinstance(data, list) else [data]
    case = {
        "id": f"{prefix}{_counters[prefix]:02d}",
        "group": group,
        "segments": [seg(s) for s in segments],
        "rule": rule,
        "expect": expect,
        "correct": correct,
    }
    case.update(extra)
    CASES.append(case)


def echo(method="GET", path="/", n=0, host="a") -> str:
    return f"ECHO {method} {path} len={n} host={host}"


DRAIN = {"op": "drain"}


def FAIL(status):
    return {"op": "fail", "status": status}


# ---------------------------------------------------------------------------------------------
# Request line (RFC 9112 3)
R = "9112 3"
add("RL", "line", req(), "status:200", R, "plain GET", checks={"echo": [echo()], "closed": False})
add("RL", "line", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", R, "two SP before target")
add("RL", "line", b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", R, "two SP before version")
add("RL", "line", b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "reject400", R, "trailing SP")
add("RL", "line", b" GET / HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", R, "leading SP")
add("RL", "line", b"GET /\r\nHost: a\r\n\r\n", "reject400", R, "HTTP/0.9 form")
add("RL", "line", b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", "reject400", R, "CR CR LF")
add("RL", "line", b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", "9110 9.1 token", "'(' in method")
add("RL", "line", b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", "9110 9.1 token", "'@' in method")
add("RL", "line", b"/ HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", R, "no method")
add("RL", "line", req("post", "/", body=b"", headers=["Content-Length: 0"]), "status:200",
    "9110 9.1 (case-sensitive token)", "lower-case method is a token", checks={"echo": [echo("post")]})
add("RL", "line", req("M-SEARCH", "*"), "reject400", "9112 3.2.4", "asterisk-form only for OPTIONS")
add("RL", "line", req("X" * 200, "/"), "status:200", R, "long method token",
    checks={"echo": [echo("X" * 200)]})
add("RL", "line", req("GET", "/", "Http/1.1"), "reject400", "9112 2.3 case-sensitive", "Http/1.1")
add("RL", "line", req("GET", "/", "HTTP/1.10"), "reject400", "9112 2.3", "two-digit minor")
add("RL", "line", req("GET", "/", "HTTP/1."), "reject400", "9112 2.3", "no minor")
add("RL", "line", req("GET", "/", "HTTP/11"), "reject400", "9112 2.3", "no dot")
add("RL", "line", req("GET", "/", "HTTP/1.2"), "status:505", "9110 6.2", "unsupported minor: 505")
add("RL", "line", req("GET", "/", "HTTP/0.9"), "status:505", "9110 6.2", "0.9")
add("RL", "line", req("GET", "/", "HTTP/3.0"), "status:505", "9110 6.2", "3.0")
add("RL", "line", req("GET", "/", "HTTP/2"), "reject400", "9112 2.3", "HTTP/2 without minor")
add("RL", "line", req("GET", "/", "HTTP/1.1x"), "reject400", "9112 2.3", "junk after version")
add("RL", "line", req("GET", "/", "HTTP/1.0", host=None), "status:200", "9112 9.3",
    "HTTP/1.0 closes by default", checks={"closed": True, "conn_close": [True], "echo": [echo(host="")]})
add("RL", "line", b"GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", "9112 2.2", "CR in target")
add("RL", "line", b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", "9112 3.2", "NUL in target")
add("RL", "line", b"GET /\tb HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", "9112 3.2", "HTAB in target")

# ---------------------------------------------------------------------------------------------
# Request target (RFC 9112 3.2, RFC 3986)
T = "9112 3.2"
add("TG", "target", req("GET", "/p?q=1"), "status:200", T, "query split off the path",
    checks={"echo": [echo(path="/p")]})
add("TG", "target", req("GET", "/a?b?c/d"), "status:200", T, "'?' inside the query",
    checks={"echo": [echo(path="/a")]})
add("TG", "target", req("GET", "/%41%2f?x=%20"), "status:200", "3986 2.1", "pct-encoded kept raw",
    checks={"echo": [echo(path="/%41%2f")]})
add("TG", "target", req("GET", "/%4"), "reject400", "3986 2.1", "truncated pct-encoding")
add("TG", "target", req("GET", "/%"), "reject400", "3986 2.1", "lone %")
add("TG", "target", req("GET", "/%GG"), "reject400", "3986 2.1", "non-hex pct-encoding")
add("TG", "target", req("GET", "/?q=%"), "reject400", "3986 2.1", "bad pct-encoding in the query")
add("TG", "target", req("GET", "/a#frag"), "reject400", "9112 3.2 (no fragment)", "fragment")
add("TG", "target", b"GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", "3986", "obs-text in target")
add("TG", "target", b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", "reject400", "3986", "CTL in target")
add("TG", "target", req("OPTIONS", "*"), "status:200", "9112 3.2.4", "asterisk-form",
    checks={"echo": [echo("OPTIONS", "*")]})
add("TG", "target", req("OPTIONS", "*x"), "reject400", "9112 3.2.4", "'*x' is no form")
add("TG", "target", req("GET", "http://h/p?q"), "status:200", "9112 3.2.2",
    "absolute-form: authority replaces Host", checks={"echo": [echo(path="/p", host="h")]})
add("TG", "target", req("GET", "HTTP://H:8080/"), "status:200", "3986 3.1 scheme case-insensitive",
    "upper-case scheme", checks={"echo": [echo(path="/", host="H:8080")]})
add("TG", "target", req("GET", "https://h"), "status:200", "9112 3.2.2", "empty path is /",
    checks={"echo": [echo(path="/", host="h")]})
add("TG", "target", req("GET", "http://h?x=1"), "status:200", "9112 3.2.2", "empty path, query",
    checks={"echo": [echo(path="/", host="h")]})
add("TG", "target", req("GET", "http:///p"), "reject400", "9112 3.2.2", "empty authority")
add("TG", "target", req("GET", "http://u@h/"), "reject400", "9110 4.2.4", "userinfo")
add("TG", "target", req("GET", "ftp://h/"), "reject400", "9112 3.2.2", "non-http scheme")
add("TG", "target", req("GET", "http:/h"), "reject400", "9112 3.2.2", "not hier-part //")
add("TG", "target", req("GET", "//h/p"), "status:200", "3986 3.3 path-absolute", "empty segment",
    checks={"echo": [echo(path="//h/p")]})
add("TG", "target", req("CONNECT", "/"), "reject400", "9112 3.2.3", "CONNECT needs authority-form")
add("TG", "target", req("CONNECT", "h"), "reject400", "9112 3.2.3", "authority-form needs a port")
add("TG", "target", req("CONNECT", "[::1]:443", host="[::1]:443"), "status:501", "9110 9.3.6",
    "CONNECT is not tunnelled")
add("TG", "target", req("GET", "/%0d%0aSet-Cookie:%20x"), "status:200", "CRLF injection",
    "encoded CRLF stays encoded", checks={"echo": [echo(path="/%0d%0aSet-Cookie:%20x")]})
add("TG", "target", req("GET", "/a'b(c)*!$&+,;=:@~-._"), "status:200", "3986 pchar", "all pchar",
    checks={"echo": [echo(path="/a'b(c)*!$&+,;=:@~-._")]})

# ---------------------------------------------------------------------------------------------
# Lines (RFC 9112 2.2)
L = "9112 2.2"
add("LN", "lines", b"\r\n\r\n" + req(), "status:200", L, "empty lines before the request are ignored")
add("LN", "lines", b"\n" + req(), "reject400", L, "bare LF before the request")
add("LN", "lines", b"GET / HTTP/1.1\r\nHost: a\r\n\n", "reject400", L, "bare LF ends the head")
add("LN", "lines", b"GET / HTTP/1.1\r\nHost: a\n\r\n", "reject400", L, "bare LF ends a field")
add("LN", "lines", b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", "reject400", L, "CR CR LF")
add("LN", "lines", b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\rY: 2\r\n\r\n", "reject400", L, "bare CR inside")
add("LN", "lines", b"GET / HTTP/1.1\r\nHost: a\r\n", "none", L, "head never completed", checks={"closed": False})
add("LN", "lines", b"GET / HTTP/1.1\r\nHost: a\r\n\r", "none", L, "head ends in CR at EOF")
add("LN", "lines", [req() + b"\r\n\r\n" + req("GET", "/b")], "statuses:200,200", L,
    "empty lines between pipelined requests", checks={"echo": [echo(), echo(path="/b")]})
add("LN", "lines", [req("POST", "/", headers=["Content-Length: 2"], body=b"hi") + b"\r\n" + req("GET", "/b")],
    "statuses:200,200", L, "CRLF after a body (old clients)", checks={"echo": [echo("POST", n=2), echo(path="/b")]})
add("LN", "lines", b"\r\n" * 40 + req(), "status:431", L, "leading empty lines count toward the head",
    limits={"max_head": 64})

# ---------------------------------------------------------------------------------------------
# Field syntax (RFC 9112 5, RFC 9110 5.5)
F = "9112 5.1"
add("HF", "header", b"GET / HTTP/1.1\r\nHost:a\r\n\r\n", "status:200", F, "no OWS", checks={"echo": [echo()]})
add("HF", "header", b"GET / HTTP/1.1\r\nHost: \t a \t \r\n\r\n", "status:200", F, "OWS trimmed",
    checks={"echo": [echo()]})
add("HF", "header", req(headers=[b"X: \x80\xff\xfe"]), "status:200", "9110 5.5 obs-text", "obs-text value")
add("HF", "header", req(headers=["X:"]), "status:200", "9110 5.5", "empty value")
add("HF", "header", req(headers=["X:  "]), "status:200", "9110 5.5", "whitespace-only value")
add("HF", "header", req(headers=["!#$%&'*+-.^_`|~09Az: v"]), "status:200", "9110 5.6.2", "all tchar")
add("HF", "header", req(headers=["X : v"]), "reject400", F, "SP before colon")
add("HF", "header", req(headers=["X(: v"]), "reject400", "9110 5.6.2", "'(' in name")
add("HF", "header", req(headers=['X": v']), "reject400", "9110 5.6.2", "DQUOTE in name")
add("HF", "header", req(headers=["X/Y: v"]), "reject400", "9110 5.6.2", "'/' in name")
add("HF", "header", req(headers=["X@: v"]), "reject400", "9110 5.6.2", "'@' in name")
add("HF", "header", req(headers=["X{: v"]), "reject400", "9110 5.6.2", "'{' in name")
add("HF", "header", req(headers=[b"X: a\x01b"]), "reject400", "9110 5.5", "SOH in value")
add("HF", "header", req(headers=[b"X: a\x7fb"]), "reject400", "9110 5.5", "DEL in value")
add("HF", "header", req(headers=[b"X: a\x0bb"]), "reject400", "9110 5.5", "VT in value")
add("HF", "header", req(headers=[b"X: a\x0cb"]), "reject400", "9110 5.5", "FF in value")
add("HF", "header", req(headers=[b"X: a\x00"]), "reject400", "9110 5.5", "NUL at the end of a value")
add("HF", "header", req(headers=[b"X: a\tb"]), "status:200", "9110 5.5", "HTAB inside a value")
add("HF", "header", req(headers=["X: a:b: c"]), "status:200", F, "colons in the value")
add("HF", "header", req(headers=["X: a", "\tb"]), "reject400", "9112 5.2 obs-fold", "obs-fold with HTAB")
add("HF", "header", req(headers=[b"X: a\nGET /x HTTP/1.1"]), "reject400", L, "LF smuggled in a value")
add("HF", "header", b"GET / HTTP/1.1\r\nHost: a\r\n\rGET /x HTTP/1.1\r\n\r\n", "reject400", L, "CR line")
add("HF", "header", req(headers=["Content-Length_: 5"]), "status:200", "9110 5.1",
    "a longer name is an ordinary field", checks={"echo": [echo()]})
add("HF", "header", req(headers=["X_Custom: 1"]), "status:200", "9110 5.1", "underscore names are ordinary")
add("HF", "header", req(headers=["Content_Length: 5"], body=b"hello"), "underscore", "9110 5.1",
    "Content_Length is refused (desync with CGI-style normalisers)")
add("HF", "header", req(headers=["content_length: 0"]), "status:400", "9110 5.1", "any case")
add("HF", "header", req(headers=["Transfer_Encoding: chunked"]), "status:400", "9110 5.1",
    "Transfer_Encoding is refused")

# ---------------------------------------------------------------------------------------------
# Host (RFC 9112 3.2, RFC 9110 7.2)
H = "9112 3.2; 9110 7.2"
for value, ok in [("a:80", True), ("[::1]:8000", True), ("[::1", False), ("a b", False), ("a/b", False),
                  ("a:", True), ("a:65535", True), ("a:65536", False), ("a:123456", False), (":80", False),
                  ("a\tb", False), ("xn--bcher-kva.example", True), ("a_b.example", True),
                  ("a,b", False), ("1.2.3.4:5", True), ("a:8x", False), ("[v1.x]", False)]:
    add("HO", "host", req(host=value), "status:200" if ok else "reject400", H, f"Host: {value!r}",
        **({"checks": {"echo": [echo(host=value)]}} if ok else {}))
add("HO", "host", b"GET / HTTP/1.1\r\nHost: \xe9\r\n\r\n", "reject400", H, "non-ASCII host")
add("HO", "host", b"GET / HTTP/1.1\r\nHOST: a\r\n\r\n", "status:200", H, "field names are case-insensitive")
add("HO", "host", req(version="HTTP/1.0", host="a", headers=["Host: a"]), "reject400", H, "two Hosts on 1.0")
add("HO", "host", req(version="HTTP/1.0", host="a b"), "reject400", H, "invalid Host on 1.0")
add("HO", "host", req(target="http://t/x", host="other"), "status:200", "9112 3.2.2",
    "absolute-form wins over Host", checks={"echo": [echo(path="/x", host="t")]})
add("HO", "host", req(target="http://t/x", host=None), "reject400", H, "absolute-form still needs Host on 1.1")

# ---------------------------------------------------------------------------------------------
# Content-Length (RFC 9110 8.6, RFC 9112 6.2)
C = "9110 8.6"
add("CL", "CL", req("POST", headers=["Content-Length: 0"]), "accept_len:0", C, "zero")
add("CL", "CL", [req("POST", headers=["Content-Length: 5"]), b"he", b"llo"], "accept_len:5", C,
    "body across segments")
add("CL", "CL", req("POST", headers=["Content-Length: 5 "], body=b"hello"), "accept_len:5", C, "trailing OWS")
add("CL", "CL", req("POST", headers=["Content-Length: 05"], body=b"hello"), "accept_len:5", C, "leading zero")
for bad in ["0x5", "5a", "1e3", "-0", "5 5", "5,", ",5", "\"5\"", "5;", "\xb5"]:
    add("CL", "CL", req("POST", headers=["Content-Length: " + bad], body=b"hello"), "reject400", C, f"CL {bad!r}")
add("CL", "CL", req("POST", headers=["Content-Length: 5", "Content-Length: 6"], body=b"hello!"), "reject400",
    C, "different duplicates")
add("CL", "CL", req("POST", headers=["Content-Length: 5", "Content-Length: 5"], body=b"hello"), "status:400",
    C, "identical duplicates: rejected by policy")
add("CL", "CL", req("POST", headers=["Content-Length: 18446744073709551616"]), "status:413", C,
    "2^64: saturates, too large")
add("CL", "CL", req("POST", headers=["Content-Length: 99999999999999999999999999"]), "status:413", C, "huge")
add("CL", "CL", req("POST", headers=["Content-Length: 16777217"]), "status:413", "9110 15.5.14",
    "default limit + 1, decided before the body", checks={"closed": True})
add("CL", "CL", req("POST", "/limit/10", headers=["Content-Length: 10"], body=b"0123456789"), "accept_len:10",
    "limit", "exactly the route limit")
add("CL", "CL", req("POST", "/limit/10", headers=["Content-Length: 11"]), "status:413", "limit",
    "route limit + 1", checks={"closed": True})
add("CL", "CL", req("POST", "/limit/0", headers=["Content-Length: 0"]), "accept_len:0", "limit", "0 of 0")
add("CL", "CL", req("POST", "/limit/0", headers=["Content-Length: 1"], body=b"x"), "status:413", "limit", "1 of 0")
add("CL", "CL", req("POST", headers=["Content-Length: 16"], body=b"x" * 16), "accept_len:16", "limit",
    "max_body exactly", limits={"max_body": 16})
add("CL", "CL", req("POST", headers=["Content-Length: 17"], body=b"x" * 17), "status:413", "limit",
    "max_body + 1", limits={"max_body": 16})
add("CL", "CL", req("POST", headers=["Content-Length: 10"], body=b"hello"), "none", "9112 6.2",
    "short body at EOF: no response", checks={"closed": False})
add("CL", "CL", req("POST", headers=["Content-Length: 2"], body=b"hiXYZ\r\n\r\n"), "statuses:200,400", "9112 6.2",
    "bytes past the body are the next request")
inner = b"\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n" + b"x" * 10
add("CL", "CL", req("POST", headers=[f"Content-Length: {len(inner)}"], body=inner),
    "statuses:200", "9112 6.2", "a request inside a body is body", checks={"echo": [echo("POST", n=len(inner))]})
add("CL", "CL", req("GET", headers=["Content-Length: 3"], body=b"abc"), "accept_len:3", C, "GET with a body")
add("CL", "CL", req("POST", headers=["Content-Length: 3"], body=b"abc") + req("GET", "/b"), "pipeline2",
    "9112 9.3.2", "body then pipelined request")
add("CL", "CL", req("POST", headers=["Content-Length: 3", "Content-Length: abc"], body=b"abc"), "reject400", C,
    "valid then invalid")
big = b"x" * 200_000
add("CL", "CL", req("POST", headers=[f"Content-Length: {len(big)}"], body=big), f"accept_len:{len(big)}", C,
    "large body")

# ---------------------------------------------------------------------------------------------
# Transfer-Encoding (RFC 9112 6.1, 6.3)
E = "9112 6.1"
add("TE", "TE", req("POST", headers=["Transfer-Encoding: gzip, chunked"], body=b"0\r\n\r\n"), "status:501", E,
    "unknown coding before chunked: 501")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: chunked, gzip"], body=b"0\r\n\r\n"), "reject400", "9112 6.3",
    "chunked not final")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: identity"], body=b"0\r\n\r\n"), "reject400", "9112 6.3",
    "no chunked: length unknown")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"], body=b"0\r\n\r\n"),
    "status:501", E, "two field lines form one list")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], body=b"0\r\n\r\n"),
    "reject400", E, "chunked twice over two lines")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: chunked;q=1"], body=b"0\r\n\r\n"), "reject400", E,
    "chunked has no parameters")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: gzip;level=\"9\", chunked"], body=b"0\r\n\r\n"),
    "status:501", E, "parameters on an unknown coding")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: gzip;level=\"9, chunked"], body=b"0\r\n\r\n"),
    "reject400", E, "unterminated quoted parameter")
add("TE", "TE", req("POST", headers=["Transfer-Encoding:"], body=b"0\r\n\r\n"), "reject400", E, "empty TE")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: chunked", "Content-Length: 0"], body=b"0\r\n\r\n"),
    "te_close", "9112 6.3", "TE + CL 0")
add("TE", "TE", req("POST", version="HTTP/1.0", headers=["Transfer-Encoding: chunked"], body=b"0\r\n\r\n"),
    "reject400", "9112 6.1", "TE on HTTP/1.0")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: CHUNKED"], body=b"5\r\nhello\r\n0\r\n\r\n"),
    "accept_len:5", E, "case-insensitive")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: chunked,"], body=b"5\r\nhello\r\n0\r\n\r\n"),
    "accept_len:5", "9110 5.6.1 empty list elements", "trailing comma")
add("TE", "TE", req("POST", headers=["Transfer-Encoding: chunked gzip"], body=b"0\r\n\r\n"), "reject400", E,
    "no comma")

# ---------------------------------------------------------------------------------------------
# Chunked framing (RFC 9112 7.1)
K = "9112 7.1"


def chunked(body: bytes, target="/", headers=(), **kw) -> bytes:
    return req("POST", target, headers=["Transfer-Encoding: chunked", *headers], body=body, **kw)


add("CH", "chunk", chunked(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "accept_len:5", K, "two chunks")
add("CH", "chunk", chunked(b"A\r\n0123456789\r\n0\r\n\r\n"), "accept_len:10", K, "upper-case hex")
add("CH", "chunk", chunked(b"a\r\n0123456789\r\n0\r\n\r\n"), "accept_len:10", K, "lower-case hex")
add("CH", "chunk", chunked(b"0005\r\nhello\r\n0\r\n\r\n"), "accept_len:5", K, "leading zeros")
add("CH", "chunk", chunked(b"0000000000000005\r\nhello\r\n0\r\n\r\n"), "accept_len:5", K, "16 digits")
add("CH", "chunk", chunked(b"00000000000000005\r\nhello\r\n0\r\n\r\n"), "reject400", K, "17 digits: bounded")
add("CH", "chunk", chunked(b"0\r\n\r\n"), "accept_len:0", K, "empty body")
add("CH", "chunk", chunked(b"5;name=value\r\nhello\r\n0\r\n\r\n"), "accept_len:5", K, "extension")
add("CH", "chunk", chunked(b'5;n="quoted \\" ;=value"\r\nhello\r\n0\r\n\r\n'), "accept_len:5", K,
    "quoted extension with quoted-pair")
add("CH", "chunk", chunked(b"5 ;a=b\r\nhello\r\n0\r\n\r\n"), "accept_len:5", K, "BWS before ';'")
add("CH", "chunk", chunked(b"5; a = b ;c\r\nhello\r\n0;x\r\n\r\n"), "accept_len:5", K, "BWS everywhere")
add("CH", "chunk", chunked(b"5;=b\r\nhello\r\n0\r\n\r\n"), "reject400", K, "extension without a name")
add("CH", "chunk", chunked(b"5;a=\r\nhello\r\n0\r\n\r\n"), "reject400", K, "'=' without a value")
add("CH", "chunk", chunked(b'5;a="x\r\nhello\r\n0\r\n\r\n'), "reject400", K, "unterminated quoted value")
add("CH", "chunk", chunked(b"5;a b\r\nhello\r\n0\r\n\r\n"), "reject400", K, "two names")
add("CH", "chunk", chunked(b"5;a\x01\r\nhello\r\n0\r\n\r\n"), "reject400", K, "CTL in an extension")
add("CH", "chunk", chunked(b"1;" + b"x" * 300 + b"\r\na\r\n0\r\n\r\n"), "reject400", K,
    "extensions bounded (max_head per body)", limits={"max_head": 256})
add("CH", "chunk", chunked(b"5\r\nhello\n0\r\n\r\n"), "reject400", K, "bare LF after data")
add("CH", "chunk", chunked(b"5\rhello\r\n0\r\n\r\n"), "reject400", K, "CR without LF after the size")
add("CH", "chunk", chunked(b"5\r\nhel\r\n0\r\n\r\n"), "reject400", K, "short chunk data")
add("CH", "chunk", chunked(b" 5\r\nhello\r\n0\r\n\r\n"), "reject400", K, "leading space")
add("CH", "chunk", chunked(b"\r\nhello\r\n0\r\n\r\n"), "reject400", K, "missing size")
add("CH", "chunk", chunked(b"4\r\n\r\n\r\n\r\n0\r\n\r\n"), "accept_len:4", K, "data made of CRLFs")
add("CH", "chunk", chunked(b"5\r\n\r\n\r\n\r\n\r\n0\r\n\r\n"), "reject400", K, "5 CRLF bytes leave LF where CRLF must be")
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\n"), "no2xx", K, "no final CRLF at EOF")
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\nX-T: 1\r\nY-T: 2\r\n\r\n"), "accept_len:5", "9112 7.1.2",
    "trailers")
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\nX-T: 1\r\n y\r\n\r\n"), "reject400", "9112 7.1.2", "folded trailer")
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\nNoColon\r\n\r\n"), "reject400", "9112 7.1.2", "trailer without colon")
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\nX: 1\n\r\n"), "reject400", "9112 7.1.2", "bare LF in trailers")
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\nX: \x00\r\n\r\n"), "reject400", "9112 7.1.2", "NUL in a trailer")
# trailer section size: "X: " + pad + CRLF ... + final CRLF == max_head (256)
pad = 256 - len(b"X: \r\n\r\n")
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\nX: " + b"t" * pad + b"\r\n\r\n", host="a"), "accept_len:5",
    "9112 7.1.2 + limits", "trailer section exactly max_head", limits={"max_head": 256})
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\nX: " + b"t" * (pad + 1) + b"\r\n\r\n"), "status:431",
    "9112 7.1.2 + limits", "trailer section max_head + 1", limits={"max_head": 256})
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), "accept_len:5", "limits",
    "trailer count exactly max_headers", limits={"max_headers": 3})
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), "status:431", "limits",
    "trailer count max_headers + 1", limits={"max_headers": 3})
add("CH", "chunk", chunked(b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", "/limit/10"), "accept_len:10", "limit",
    "chunked body exactly the limit")
add("CH", "chunk", chunked(b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", "/limit/10"), "status:413", "limit",
    "chunked body limit + 1")
add("CH", "chunk", chunked(b"b\r\n", "/limit/10"), "status:413", "limit",
    "a chunk larger than the limit: 413 before its data", checks={"closed": True})
add("CH", "chunk", chunked(b"10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n"), "accept_len:16", "limit",
    "max_body exactly, chunked", limits={"max_body": 16})
add("CH", "chunk", chunked(b"a\r\n" + b"x" * 10 + b"\r\n7\r\n" + b"x" * 7 + b"\r\n0\r\n\r\n"), "status:413",
    "limit", "max_body + 1, chunked", limits={"max_body": 16})
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\n\r\n") + req("GET", "/b"), "pipeline2", "9112 9.3.2",
    "chunked then pipelined request")
add("CH", "chunk", chunked(b"1\r\nx\r\n" * 1000 + b"0\r\n\r\n"), "accept_len:1000", K, "1000 one-byte chunks")
add("CH", "chunk", chunked(b"%x\r\n" % 150_000 + b"y" * 150_000 + b"\r\n0\r\n\r\n"), "accept_len:150000", K,
    "one large chunk")
add("CH", "chunk", [chunked(b"5\r\nhe"), b"llo\r", b"\n0\r\n", b"\r\n"], "accept_len:5", K, "framing across segments")
add("CH", "chunk", chunked(b"5\r\nhello\r\n0\r\n\r\n", headers=["Content-Length: 5"]), "te_close", "9112 6.3",
    "CL after TE")

# ---------------------------------------------------------------------------------------------
# Limits (request line, head, header count)
M = "limits"
rl_exact = b"GET /" + b"a" * (8192 - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
assert len(rl_exact) == 8192
add("LM", "limits", rl_exact + b"\r\nHost: a\r\n\r\n", "status:200", M, "request line exactly 8192")
rl_over = b"GET /" + b"a" * (8193 - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
add("LM", "limits", rl_over + b"\r\nHost: a\r\n\r\n", "status:414", M, "request line 8193")
add("LM", "limits", rl_over, "status:414", M, "414 before the line ends", checks={"closed": True})
add("LM", "limits", rl_exact + b"\rX\r\nHost: a\r\n\r\n", "status:414", M, "CR at the limit, then more")
add("LM", "limits", b"GET /" + b"a" * 45 + b" HTTP/1.1\r\nHost: a\r\n\r\n", "status:200", M,
    "small limit exactly", limits={"max_request_line": 59})
add("LM", "limits", b"GET /" + b"a" * 46 + b" HTTP/1.1\r\nHost: a\r\n\r\n", "status:414", M,
    "small limit + 1", limits={"max_request_line": 59})


def head_of_size(n: int) -> bytes:
    base = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n"
    filler = n - len(base)
    head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"p" * filler + b"\r\n\r\n"
    assert len(head) == n
    return head


add("LM", "limits", head_of_size(16384), "status:200", M, "head exactly 16384")
add("LM", "limits", head_of_size(16385), "status:431", M, "head 16385")
add("LM", "limits", head_of_size(16390)[:-4], "status:431", M, "431 before the head ends", checks={"closed": True})
add("LM", "limits", head_of_size(200), "status:200", M, "small head limit exactly", limits={"max_head": 200})
add("LM", "limits", head_of_size(201), "status:431", M, "small head limit + 1", limits={"max_head": 200})
hundred = req(headers=[f"X-{i}: v" for i in range(99)])
add("LM", "limits", hundred, "status:200", M, "exactly 100 fields (with Host)")
add("LM", "limits", req(headers=[f"X-{i}: v" for i in range(100)]), "status:431", M, "101 fields")
add("LM", "limits", req(headers=["A: 1", "B: 2", "C: 3", "D: 4"]), "status:200", M, "5 of 5 fields",
    limits={"max_headers": 5})
add("LM", "limits", req(headers=["A: 1", "B: 2", "C: 3", "D: 4", "E: 5"]), "status:431", M, "6 of 5 fields",
    limits={"max_headers": 5})
add("LM", "limits", req(headers=[f"X-{i}: v" for i in range(300)]), "status:431", M,
    "more fields than the hard array bound (128)", limits={"max_headers": 1000})
add("LM", "limits", req() + head_of_size(16385), "statuses:200,431", M, "pipelined request over the limit")

# ---------------------------------------------------------------------------------------------
# Connection management (RFC 9112 9)
N = "9112 9.3"
add("CN", "conn", req() + req("GET", "/b"), "pipeline2", N, "keep-alive by default",
    checks={"conn_close": [False, False], "closed": False})
add("CN", "conn", req(headers=["Connection: close"]), "close1", N, "close", checks={"conn_close": [True]})
add("CN", "conn", req(headers=["Connection: keep-alive, close"]) + req("GET", "/b"), "close1", N, "close in a list")
add("CN", "conn", req(headers=["Connection: CLOSE"]) + req("GET", "/b"), "close1", N, "case-insensitive")
add("CN", "conn", req(headers=["Connection: upgrade", "Connection: close"]) + req("GET", "/b"), "close1", N,
    "two field lines")
add("CN", "conn", req(headers=["Connection: closed"]) + req("GET", "/b"), "pipeline2", N, "'closed' is not close")
add("CN", "conn", req(version="HTTP/1.0", headers=["Connection: keep-alive"]) + req(version="HTTP/1.0"),
    "statuses:200,200", N, "1.0 keep-alive, then 1.0", checks={"conn_close": [False, True], "closed": True})
add("CN", "conn", req(version="HTTP/1.0", headers=["Connection: Keep-Alive"]), "status:200", N, "1.0 Keep-Alive",
    checks={"closed": False})
add("CN", "conn", req(version="HTTP/1.0", headers=["Connection: keep-alive, close"]), "close1", N, "1.0 both")
add("CN", "conn", req() + req("GET", "/b", headers=["Connection: close"]) + req("GET", "/c"), "statuses:200,200", N,
    "nothing after a close", checks={"echo": [echo(), echo(path="/b")], "closed": True})
add("CN", "conn", req() + b"BAD\r\n\r\n" + req("GET", "/c"), "statuses:200,400", N, "error in the middle",
    checks={"echo": [echo()], "closed": True})
ten = b"".join(req("GET", f"/{i}") for i in range(10))
add("CN", "conn", ten, "statuses:" + ",".join(["200"] * 10), "9112 9.3.2", "10 pipelined",
    checks={"echo": [echo(path=f"/{i}") for i in range(10)]})
add("CN", "conn", ten, "statuses:" + ",".join(["200"] * 10), "9112 9.3.2", "10 pipelined, Pending responses",
    flags=1, checks={"echo": [echo(path=f"/{i}") for i in range(10)], "served": 10})
add("CN", "conn", ten, "statuses:" + ",".join(["200"] * 10), "9112 9.3.2",
    "10 pipelined to a peer that does not read: dispatch stops above the high-water mark",
    flags=2, limits={"output_high_water": 1}, checks={"max_output": 400, "served": 10})
add("CN", "conn", ten, "statuses:" + ",".join(["200"] * 10), "9112 9.3.2", "Pending + slow peer",
    flags=3, limits={"output_high_water": 1}, checks={"max_output": 400})
add("CN", "conn", chunked(b"5\r\nhello\r\n0\r\n\r\n") + chunked(b"3\r\nabc\r\n0\r\n\r\n", "/b"), "statuses:200,200",
    N, "two chunked bodies, Pending", flags=1, checks={"echo": [echo("POST", n=5), echo("POST", "/b", 3)]})
add("CN", "conn", [DRAIN], "none", "shutdown", "draining an idle connection closes it", checks={"closed": True})
add("CN", "conn", [req()[:10], DRAIN, req()[10:] + req("GET", "/b")], "statuses:200", "shutdown",
    "draining: the request in progress is answered with close", checks={"conn_close": [True], "closed": True})
add("CN", "conn", [req()[:10], FAIL(408)], "status:408", "deadline", "head deadline",
    checks={"closed": True})
add("CN", "conn", [req("POST", headers=["Content-Length: 10"], body=b"abc"), FAIL(408)], "status:408", "deadline",
    "body deadline", checks={"closed": True})
add("CN", "conn", [req() + req("GET", "/b"), DRAIN], "statuses:200,200", "shutdown", "drain after responses",
    checks={"closed": True})

# ---------------------------------------------------------------------------------------------
# Expect (RFC 9110 10.1.1)
X = "9110 10.1.1"
post5 = req("POST", headers=["Content-Length: 5", "Expect: 100-continue"])
add("EX", "expect", [post5, b"hello"], "accept_len:5", X, "100 before the body", checks={"continue": 1})
add("EX", "expect", [post5 + b"hello"], "accept_len:5", X, "body already here: no 100", checks={"continue": 0})
add("EX", "expect", [req("POST", headers=["Content-Length: 5", "Expect: 100-Continue"]), b"hello"], "accept_len:5", X,
    "case-insensitive", checks={"continue": 1})
add("EX", "expect", [req("POST", version="HTTP/1.0", headers=["Content-Length: 5", "Expect: 100-continue"]), b"hello"],
    "accept_len_no100:5", X, "never on 1.0")
add("EX", "expect", [req("POST", headers=["Content-Length: 5", "Expect: foo"]), b"hello"], "status:417", X, "unknown")
add("EX", "expect", [req("POST", headers=["Content-Length: 5", "Expect: 100-continue, foo"]), b"hello"], "status:417",
    X, "unknown in a list")
add("EX", "expect", [req("POST", version="HTTP/1.0", headers=["Content-Length: 5", "Expect: foo"]), b"hello"],
    "accept_len:5", X, "1.0 expectations are ignored")
add("EX", "expect", [req("POST", headers=["Content-Length: 0", "Expect: 100-continue"])], "accept_len:0", X,
    "no body: no 100", checks={"continue_max": 0})
add("EX", "expect", [req("GET", headers=["Expect: 100-continue"])], "accept_len:0", X, "GET: no 100",
    checks={"continue_max": 0})
add("EX", "expect", [req("POST", "/limit/3", headers=["Content-Length: 5", "Expect: 100-continue"])], "status:413", X,
    "too large: 413 instead of 100", checks={"continue_max": 0, "closed": True})
add("EX", "expect", [chunked(b"", headers=["Expect: 100-continue"]), b"5\r\nhello\r\n0\r\n\r\n"], "accept_len:5", X,
    "chunked", checks={"continue": 1})
add("EX", "expect", [req() + post5, b"hello"], "statuses:200,200", X, "100 after the previous response",
    flags=1, checks={"continue": 1, "contains": ["host=a\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"]})

# ---------------------------------------------------------------------------------------------
# HEAD (RFC 9110 9.3.2)
add("HD", "head", req("HEAD"), "status:200", "9110 9.3.2", "no body, Content-Length kept",
    checks={"head_only": [True]})
add("HD", "head", req("HEAD") + req("GET", "/b"), "statuses:200,200", "9110 9.3.2", "HEAD then GET",
    checks={"head_only": [True, False]})
add("HD", "head", req("HEAD", headers=["Connection: close"]), "close1", "9110 9.3.2", "HEAD with close",
    checks={"head_only": [True]})
add("HD", "head", req("HEAD") + req("HEAD", "/b"), "statuses:200,200", "9110 9.3.2", "HEAD, Pending",
    flags=1, checks={"head_only": [True, True]})

# ---------------------------------------------------------------------------------------------
# Upgrade (never switch)
U = "9110 7.8"
add("UP", "upgrade", req(headers=["Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA"]),
    "no101", U, "h2c ignored")
add("UP", "upgrade", req(headers=["Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA"]) + req("GET", "/b"),
    "pipeline2", U, "h2c ignored, connection stays HTTP/1.1")
add("UP", "upgrade", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "status:505", "9113 3.4", "h2 preface: 505")

# ---------------------------------------------------------------------------------------------
# Smuggling shapes
S = "smuggling"
add("SM", "smuggle", req("POST", headers=["Content-Length: 4", "Transfer-Encoding: chunked"], body=b"0\r\n\r\n"),
    "te_close", S, "CL.TE")
add("SM", "smuggle", req("POST", headers=["Transfer-Encoding: xchunked"], body=b"0\r\n\r\n"), "reject", S, "xchunked")
add("SM", "smuggle", req("POST", headers=["Transfer-Encoding : chunked"], body=b"0\r\n\r\n"), "reject400", S,
    "space before colon")
add("SM", "smuggle", req("POST", headers=[b"Transfer-Encoding: \x0bchunked"], body=b"0\r\n\r\n"), "reject400", S,
    "VT before chunked")
add("SM", "smuggle", req("POST", headers=["Content-Length: 0", "Content-Length : 40"], body=b""), "reject400", S,
    "second CL with SP before colon")
add("SM", "smuggle", req("POST", headers=["Content-Length:\x0b5"], body=b"hello"), "reject400", S, "VT before CL value")
add("SM", "smuggle", req("POST", headers=["Foo: bar\r\n\rContent-Length: 5"], body=b"hello"), "reject400", S,
    "CR-prefixed field")
add("SM", "smuggle", chunked(b"5\r\nhello\r\n0\r\n\r\n" + b"GET /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n",
                             headers=["Connection: close"]), "close1", S, "nothing after a closing chunked request")

out = Path(__file__).with_name("cases.jsonl")
# Regression cases found by fuzzing (FZ..) were added to the file by hand: keep them.
if out.exists():
    CASES += [c for c in map(json.loads, out.read_text().splitlines()) if c["id"].startswith("FZ")]
ids = [c["id"] for c in CASES]
assert len(ids) == len(set(ids))
out.write_text("".join(json.dumps(c) + "\n" for c in CASES))
print(f"{len(CASES)} cases -> {out}")
