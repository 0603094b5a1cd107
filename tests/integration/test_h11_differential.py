"""Differential test of our HTTP/1.1 request parsing against h11 (the reference pure-Python parser).

Seeded hypothesis streams of 1-3 requests (valid ones, ones with known-contentious features, and
byte-level mutations) go to h11 (h11.Connection(our_role=SERVER), answering each request so it
moves on to the next) and to our engine in-process (fasterapi._core.Engine with the echo app of
tests/data/echo_app.py, recording every request it is handed). Then:

- every request both accept must agree: method, target, header fields (names lower-cased, values
  trimmed, in order) and body, byte for byte;
- the first request where one side accepts and the other does not must be explained by one of the
  documented POLICIES below (in the right direction: STRICTER = we reject what h11 accepts,
  LENIENT = we accept what h11 rejects), judged on the bytes from that request on;
- a framing disagreement (a different body for the same request) always fails, and so does a
  difference in the number of requests that no policy explains.

The policies are also listed in docs/reliability.md ("Differential testing against h11").
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DATA = Path(__file__).resolve().parents[1] / "data"
sys.path.insert(0, str(DATA))
from echo_app import EchoApp  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Documented policies: name -> (direction, predicate on the bytes from the diverging request on)

STRICTER = "we reject, h11 accepts"
LENIENT = "we accept, h11 rejects"

_HEAD_END = re.compile(rb"\r?\n\r?\n")


def _heads(rest: bytes) -> list[bytes]:
    """Request heads (roughly: text up to an empty line) found in the bytes."""
    return [m for m in re.split(rb"\r?\n\r?\n", rest) if m]


def _lines(rest: bytes) -> list[bytes]:
    return rest.split(b"\n")


def _has_bare_lf(rest: bytes) -> bool:
    return re.search(rb"(?<!\r)\n", rest) is not None


def _has_obs_fold(rest: bytes) -> bool:
    return re.search(rb"\n[ \t]", rest) is not None


def _field_names(rest: bytes) -> list[bytes]:
    return [ln.split(b":", 1)[0].strip().lower() for ln in rest.split(b"\n") if b":" in ln]


def _te_and_cl(rest: bytes) -> bool:
    return any(b"transfer-encoding:" in h.lower() and b"content-length:" in h.lower() for h in _heads(rest))


def _repeated_cl(rest: bytes) -> bool:
    return any(h.lower().count(b"content-length:") > 1 for h in _heads(rest))


def _request_lines(rest: bytes) -> list[bytes]:
    return [ln.rstrip(b"\r") for ln in rest.split(b"\n") if re.match(rb"[!-~]+ \S+ HTTP/", ln)]


def _bad_target(rest: bytes) -> bool:
    for ln in _request_lines(rest):
        parts = ln.split(b" ")
        if len(parts) >= 2:
            t = parts[1]
            if b"#" in t or re.search(rb"%(?![0-9A-Fa-f]{2})", t):
                return True
            if not t.startswith(b"/") and not re.match(rb"https?://", t, re.I):
                return True  # asterisk-form / authority-form outside OPTIONS / CONNECT, or junk
            m = re.match(rb"https?://([^/?#]*)", t, re.I)
            if m:  # absolute-form: its authority must be host[:port] with a host (RFC 9112 3.2.2)
                host, colon, port = m.group(1).rpartition(b":") if b":" in m.group(1) else (m.group(1), b"", b"")
                if not host or (colon and not port.isdigit() and not host.startswith(b"[")):
                    return True
                if not host.startswith(b"[") and not re.fullmatch(rb"[A-Za-z0-9._~%-]+", host):
                    return True  # a host that is not a DNS-style name or IPv4 (',', '!', ...)
    return False


def _version(rest: bytes) -> bool:
    return any(not ln.endswith((b"HTTP/1.1", b"HTTP/1.0")) for ln in _request_lines(rest))


def _http10_te(rest: bytes) -> bool:
    return any(b"HTTP/1.0" in h.split(b"\n", 1)[0] and b"transfer-encoding" in h.lower() for h in _heads(rest))


def _host_syntax(rest: bytes) -> bool:
    for m in re.finditer(rb"\n[Hh][Oo][Ss][Tt]:[ \t]*([^\r\n]*)", rest):
        v = m.group(1).strip(b" \t")
        # uri-host: a reg-name (unreserved, sub-delims, pct-encoded: "%" HEXDIG HEXDIG) or an IP literal
        if not re.fullmatch(rb"((?:[A-Za-z0-9\-._~!$&'()*+;=]|%[0-9A-Fa-f]{2})+|\[[0-9A-Fa-f:.vV]+\])(:[0-9]*)?", v):
            return True
    return False


def _http11_no_host(rest: bytes) -> bool:
    return any(b"HTTP/1.1" in h.split(b"\n", 1)[0] and b"\nhost:" not in h.lower() for h in _heads(rest))


_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_CHUNK_LINE = re.compile(rb"[0-9A-Fa-f]+(?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED
                         + rb"))?)*")


def _chunk_grammar(rest: bytes) -> bool:
    # chunk-size [ BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ]* CRLF (RFC 9112 7.1.1); h11 takes
    # anything up to CRLF after the size, including trailing whitespace.
    if b"chunked" not in rest.lower():
        return False
    for ln in rest.split(b"\n"):
        ln = ln[:-1] if ln.endswith(b"\r") else ln
        if re.match(rb"[0-9A-Fa-f]+[ \t;]", ln) and not _CHUNK_LINE.fullmatch(ln):
            return True
    return False


def _expect(rest: bytes) -> bool:
    for m in re.finditer(rb"\n[Ee][Xx][Pp][Ee][Cc][Tt]:[ \t]*([^\r\n]*)", rest):
        if m.group(1).strip().lower() != b"100-continue":
            return True
    return False


def _underscore_framing(rest: bytes) -> bool:
    return any(n.replace(b"-", b"_") in (b"content_length", b"transfer_encoding") and b"_" in n
               for n in _field_names(rest))


def _ctl_in_value(rest: bytes) -> bool:
    for ln in rest.split(b"\n"):
        if b":" in ln:
            v = ln.split(b":", 1)[1].rstrip(b"\r")
            if re.search(rb"[\x01-\x08\x0b-\x1f\x7f]", v):
                return True
    return False


def _leading_empty_lines(rest: bytes) -> bool:
    return rest.startswith(b"\r\n")


def _http10_keep_alive(rest: bytes) -> bool:
    return any(b"HTTP/1.0" in h.split(b"\n", 1)[0] and b"keep-alive" in h.lower() for h in _heads(rest))


def _connect_or_options_star(rest: bytes) -> bool:
    return any(ln.startswith((b"CONNECT ", b"OPTIONS * ")) for ln in _request_lines(rest))


def _te_values(rest: bytes) -> list[list[bytes]]:
    out = []
    for h in _heads(rest):
        vals = re.findall(rb"\n[Tt][Rr][Aa][Nn][Ss][Ff][Ee][Rr]-[Ee][Nn][Cc][Oo][Dd][Ii][Nn][Gg]:([^\r\n]*)", h)
        if vals:
            out.append(vals)
    return out


def _te_empty_elements(rest: bytes) -> bool:
    # "Transfer-Encoding: , chunked" / "chunked," : empty list elements (RFC 9110 5.6.1), still chunked
    for vals in _te_values(rest):
        elems = [e.strip(b" \t") for v in vals for e in v.split(b",")]
        if b"" in elems and [e.lower() for e in elems if e] == [b"chunked"]:
            return True
    return False


POLICIES: dict[str, tuple[str, str, Callable[[bytes], bool]]] = {
    "bare-lf": (STRICTER, "a line ending in LF without CR is a 400 (RFC 9112 2.2 allows either)", _has_bare_lf),
    "obs-fold": (STRICTER, "obsolete line folding is a 400 (RFC 9112 5.2: reject or replace)", _has_obs_fold),
    "te-and-cl": (STRICTER, "Transfer-Encoding with Content-Length is a 400 (h11 lets chunked win)", _te_and_cl),
    "repeated-content-length": (STRICTER, "a repeated Content-Length, even identical, is a 400", _repeated_cl),
    "target-bytes": (STRICTER, "'#', a malformed %-escape, a non-origin/absolute form or an absolute form "
                     "without host[:port] in the target is a 400",
                     _bad_target),
    "version": (STRICTER, "HTTP versions other than 1.0/1.1 are a 505", _version),
    "http10-chunked": (STRICTER, "Transfer-Encoding on HTTP/1.0 is a 400", _http10_te),
    "host-syntax": (STRICTER, "a Host that is not uri-host[:port] is a 400", _host_syntax),
    "chunk-ext-grammar": (STRICTER, "chunk extensions must follow RFC 9112 7.1.1 (no bare whitespace after the size)",
                          _chunk_grammar),
    "expect": (STRICTER, "an Expect other than 100-continue is a 417", _expect),
    "underscore-framing": (STRICTER, "Content_Length / Transfer_Encoding field names are a 400", _underscore_framing),
    "ctl-in-field-value": (STRICTER, "control characters in a field value are a 400 (h11 only refuses NUL/whitespace)",
                           _ctl_in_value),
    "te-empty-elements": (LENIENT, "empty elements in the Transfer-Encoding list are ignored (RFC 9110 5.6.1): "
                          "', chunked' is chunked; h11 wants the exact value", _te_empty_elements),
    "http11-no-host": (STRICTER, "(both reject an HTTP/1.1 request without Host)", _http11_no_host),
    "leading-empty-lines": (LENIENT, "empty lines before a request line are ignored (RFC 9112 2.2)",
                            _leading_empty_lines),
    "http10-keep-alive": (LENIENT, "HTTP/1.0 with Connection: keep-alive stays open for the next request "
                          "(h11 closes after every HTTP/1.0 request)", _http10_keep_alive),
    "connect-options-star": (STRICTER, "CONNECT is a 501; OPTIONS * is not routed", _connect_or_options_star),
}

# ---------------------------------------------------------------------------------------------
# The two parsers


def run_h11(data: bytes) -> tuple[list[tuple], list[int]]:
    """Requests h11 accepts (method, target, headers, body), and the offset where each started."""
    conn = h11.Connection(our_role=h11.SERVER)
    conn.receive_data(data)
    conn.receive_data(b"")
    reqs: list[tuple] = []
    starts = [0]
    cur = None
    try:
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA or ev is h11.PAUSED or isinstance(ev, h11.ConnectionClosed):
                break
            if isinstance(ev, h11.Request):
                cur = [ev.method, ev.target, [(bytes(k), bytes(v)) for k, v in ev.headers], b""]
            elif isinstance(ev, h11.Data):
                cur[3] += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                reqs.append(tuple(cur))
                conn.send(h11.Response(status_code=200, headers=[(b"content-length", b"0")]))
                conn.send(h11.EndOfMessage())
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()
                starts.append(len(data) - len(conn.trailing_data[0]))
    except h11.RemoteProtocolError:
        pass
    return reqs, starts


class RecordingApp(EchoApp):
    """The echo app, also recording what each request looked like to the application."""

    seen: list[tuple] = []

    @staticmethod
    def _echo(req):  # type: ignore[override]
        RecordingApp.seen.append((req.method.encode("latin-1"), bytes(req.raw_path), bytes(req.query_string),
                                  [(bytes(k), bytes(v)) for k, v in req.headers], bytes(req.body)))
        return EchoApp._echo(req)


_APP = RecordingApp()
_ENGINE = _APP._build_engine()


def run_ours(data: bytes) -> tuple[list[tuple], bytes]:
    RecordingApp.seen = []
    conn = _ENGINE.connection()
    conn.feed(data)
    conn.feed(b"")
    out = conn.read()
    return list(RecordingApp.seen), out


def _target_parts(target: bytes) -> tuple[bytes, bytes]:
    if re.match(rb"https?://", target, re.I):
        u = urlsplit(target)
        return (u.path or b"/"), u.query
    path, _, query = target.partition(b"?")
    return path, query


def _norm_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    # h11 lower-cases the value of Transfer-Encoding (its coding names are case-insensitive).
    return [(k, v.lower() if k == b"transfer-encoding" else v) for k, v in headers]


def compare(data: bytes) -> None:
    theirs, starts = run_h11(data)
    ours, out = run_ours(data)
    n = min(len(theirs), len(ours))
    for i in range(n):
        m1, t1, h1, b1 = theirs[i]
        m2, p2, q2, h2, b2 = ours[i]
        ctx = f"request {i} of {data!r}"
        # Framing first: the same request must carry the same body.
        assert b1 == b2, f"FRAMING: body differs ({b1!r} vs ours {b2!r}) in {ctx}"
        assert m1 == m2, f"method {m1!r} vs ours {m2!r} in {ctx}"
        assert _target_parts(t1) == (p2, q2), f"target {t1!r} vs ours {p2!r}?{q2!r} in {ctx}"
        if re.match(rb"https?://", t1, re.I):
            # absolute-form policy: the app sees the target's authority as Host (RFC 9112 3.2.2)
            h1 = [(k, urlsplit(t1).netloc if k == b"host" else v) for k, v in h1]
        assert _norm_headers(h1) == _norm_headers(h2), f"headers {h1!r} vs ours {h2!r} in {ctx}"
    if len(theirs) == len(ours):
        return
    # The first request one side did not accept: a documented policy must explain it.
    rest = data[starts[n]:] if n < len(starts) else data
    direction = STRICTER if len(ours) < len(theirs) else LENIENT
    why = [name for name, (d, _, pred) in POLICIES.items() if d == direction and pred(rest)]
    assert why, (
        f"request count differs (h11 {len(theirs)}, ours {len(ours)}: {direction}) with no documented policy; "
        f"stream {data!r}, from request {n}: {rest[:300]!r}; our output {out[:400]!r}"
    )


# ---------------------------------------------------------------------------------------------
# Generators

TOKEN_METHODS = [b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"HEAD", b"X-CUSTOM"]
GOOD_TARGETS = [b"/", b"/a/b", b"/a?x=1&y=2", b"/%41%2Fz", b"/a;p=1", b"/~u/x.y", b"/q?", b"/?a=%20b",
                b"/items/42?q=a+b", b"http://example.com/x?y=1"]
BAD_TARGETS = [b"/a#f", b"/%zz", b"/%4", b"*", b"example.com:80", b"/a b"]
GOOD_HEADERS = [
    (b"X-A", b"1"), (b"Accept", b"*/*"), (b"User-Agent", b"diff/1.0"), (b"X-Empty", b""),
    (b"X-Spaces", b"  padded value \t"), (b"Cookie", b"a=b; c=d"), (b"X-Obs-Text", b"caf\xc3\xa9"),
    (b"Connection", b"keep-alive"), (b"Expect", b"100-continue"), (b"Accept-Encoding", b"gzip, br"),
    (b"X-Quote", b'"quoted \\" value"'), (b"x-lower", b"v"), (b"X-UPPER", b"V"),
]
BAD_HEADERS = [
    (b"Expect", b"nope"), (b"Content_Length", b"3"), (b"X-Ctl", b"a\x01b"), (b"X-Del", b"a\x7fb"),
    (b"Transfer_Encoding", b"chunked"),
]


@st.composite
def request(draw, budget: list[int]) -> bytes:
    """One request; at most budget[0] contentious choices are spent on it (so that a divergence
    has one cause)."""

    def chance(p: float) -> bool:
        if budget[0] > 0 and draw(st.floats(0, 1)) < p:
            budget[0] -= 1
            return True
        return False

    def pick(good, bad, p_bad=0.15):
        if bad and chance(p_bad):
            return draw(st.sampled_from(bad))
        return draw(st.sampled_from(good))

    method = draw(st.sampled_from(TOKEN_METHODS))
    target = pick(GOOD_TARGETS, BAD_TARGETS)
    version = pick([b"HTTP/1.1"] * 6 + [b"HTTP/1.0"], [b"HTTP/1.2", b"HTTP/2.0", b"HTTP/0.9"], 0.05)
    eol = pick([b"\r\n"], [b"\n"], 0.05)
    fields: list[tuple[bytes, bytes]] = []
    if version != b"HTTP/1.0" or draw(st.booleans()):
        fields.append((b"Host", pick([b"example.com", b"a:8080", b"[::1]:80", b"h"], [b"a b", b"a@b", b""], 0.05)))
    for _ in range(draw(st.integers(0, 4))):
        fields.append(pick(GOOD_HEADERS, BAD_HEADERS, 0.1))
    if draw(st.integers(0, 9)) == 0:
        fields.append((b"Connection", b"close"))
    body = draw(st.binary(max_size=40))
    framing = draw(st.sampled_from(["none", "cl", "cl", "chunked", "chunked"]))
    if chance(0.1):
        framing = draw(st.sampled_from(["te+cl", "cl-twice", "chunked-list"]))
    if framing == "chunked" and version == b"HTTP/1.0" and not chance(0.5):
        framing = "cl"  # (chunked on HTTP/1.0 is the http10-chunked policy)
    if framing in ("cl", "te+cl", "cl-twice"):
        fields.append((draw(st.sampled_from([b"Content-Length", b"content-length"])), b"%d" % len(body)))
    if framing == "cl-twice":
        fields.append((b"Content-Length", b"%d" % len(body)))
    if framing in ("chunked", "te+cl"):
        fields.append((b"Transfer-Encoding", draw(st.sampled_from([b"chunked", b"Chunked", b"CHUNKED"]))))
    if framing == "chunked-list":
        fields.append((b"Transfer-Encoding", draw(st.sampled_from([b"chunked, chunked", b", chunked", b"gzip, chunked"]))))
    fields = draw(st.permutations(fields))
    lines = [method + b" " + target + b" " + version] + [k + b": " + v for k, v in fields]
    if chance(0.05):
        lines.insert(draw(st.integers(2, len(lines))) if len(lines) >= 2 else 1, b" folded")
    head = eol.join(lines) + eol + eol
    if chance(0.05):
        head = b"\r\n" + head
    if framing in ("chunked", "te+cl", "chunked-list"):
        out = bytearray(head)
        pos = 0
        while pos < len(body):
            k = draw(st.integers(1, len(body) - pos))
            ext = pick([b"", b"", b";a=b", b';q="x y"', b";n"], [b" ", b"; ", b";a=b c", b";=x"], 0.2)
            out += b"%x" % k + ext + b"\r\n" + body[pos:pos + k] + b"\r\n"
            pos += k
        out += b"0\r\n" + pick([b"", b"", b"Trailer-A: 1\r\n"], []) + b"\r\n"
        return bytes(out)
    if framing in ("cl", "cl-twice"):
        return head + body
    return head


@st.composite
def stream(draw, contentious: bool, mutate: bool) -> bytes:
    budget = [1 if contentious else 0]  # one contentious feature per stream at most
    data = bytearray(b"".join(draw(request(budget)) for _ in range(draw(st.integers(1, 3)))))
    if mutate:
        for _ in range(draw(st.integers(1, 2))):
            i = draw(st.integers(0, len(data)))
            op = draw(st.sampled_from(["replace", "delete", "insert"]))
            byte = draw(st.sampled_from(list(b"\r\n \t:;,0aZ\x00\x7f\xff/?#%-")) | st.integers(0, 255))
            if op == "replace" and i < len(data):
                data[i] = byte
            elif op == "delete" and i < len(data):
                del data[i]
            else:
                data.insert(i, byte)
    return bytes(data)


COMMON = dict(derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=700, **COMMON)
@given(stream(contentious=False, mutate=False))
def test_valid_requests_agree(data: bytes) -> None:
    theirs, _ = run_h11(data)
    ours, out = run_ours(data)
    # Valid streams: both accept every request, identically (except h11's HTTP/1.0 closing).
    compare(data)
    if not _http10_keep_alive(data):
        assert len(ours) == len(theirs), f"{data!r}: h11 {len(theirs)} requests, ours {len(ours)}: {out[:300]!r}"


@settings(max_examples=700, **COMMON)
@given(stream(contentious=True, mutate=False))
def test_contentious_requests_follow_policies(data: bytes) -> None:
    compare(data)


@settings(max_examples=900, **COMMON)
@given(stream(contentious=False, mutate=True))
def test_mutated_requests_follow_policies(data: bytes) -> None:
    compare(data)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policies_are_documented(name: str) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    assert f"`{name}`" in doc, f"policy {name} missing from docs/reliability.md"


def test_known_differences() -> None:
    """One example per policy that h11 and we really disagree on (keeps the list honest)."""
    examples = {
        "bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
        "obs-fold": b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n",
        "te-and-cl": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        "repeated-content-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        "target-bytes": b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
        "version": b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        "http10-chunked": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "host-syntax": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        "chunk-ext-grammar": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n",
        "expect": b"GET / HTTP/1.1\r\nHost: a\r\nExpect: nope\r\n\r\n",
        "underscore-framing": b"GET / HTTP/1.1\r\nHost: a\r\nContent_Length: 3\r\n\r\n",
        "ctl-in-field-value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
        "leading-empty-lines": b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "http10-keep-alive": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
    }
    for name, data in examples.items():
        theirs, _ = run_h11(data)
        ours, _ = run_ours(data)
        want = POLICIES[name][0]
        got = STRICTER if len(ours) < len(theirs) else LENIENT if len(ours) > len(theirs) else "agree"
        assert got == want, f"{name}: expected '{want}', got '{got}' (h11 {len(theirs)}, ours {len(ours)})"
        assert POLICIES[name][2](data), f"{name}: its predicate does not match its example"
        compare(data)
