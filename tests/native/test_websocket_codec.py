"""The WebSocket frame decoder and handshake digest (src/native/http/websocket.cpp), through
tests/native/ws_driver.cpp, built with ASan+UBSan: hostile frames give the right close code, every
input gives the same events however it is split, and random/mutated input never crashes it."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from test_ring import DRIVERS, REPO


def fnv1a(data: bytes) -> str:
    h = 2166136261
    for c in data:
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return f"{h:08x}"


@pytest.fixture(scope="module")
def driver() -> Path:
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    DRIVERS.mkdir(parents=True, exist_ok=True)
    exe = DRIVERS / "ws_driver-asan"
    srcs = [REPO / "tests/native/ws_driver.cpp", REPO / "src/native/http/websocket.cpp"]
    deps = [*srcs, REPO / "src/native/http/websocket.hpp", REPO / "src/native/http/buffer.hpp"]
    if not exe.exists() or exe.stat().st_mtime < max(p.stat().st_mtime for p in deps):
        cmd = [cxx, "-std=c++20", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers",
               "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer",
               "-I", str(REPO / "src/native"), *map(str, srcs), "-o", str(exe)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            pytest.fail(proc.stdout[-4000:], pytrace=False)
    return exe


def decode(driver: Path, cases: list[bytes], max_message: int = 1 << 20) -> list[list[str]]:
    blob = b"".join(struct.pack("<I", len(c)) + c for c in cases)
    proc = subprocess.run([str(driver), "decode", str(max_message)], input=blob, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, out[-4000:]
    assert out.endswith("all ok\n"), out[-2000:]
    transcripts = out[: -len("all ok\n")].split("END\n")[:-1]
    assert len(transcripts) == len(cases)
    return [t.splitlines() for t in transcripts]


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0,
          length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", first, m | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", first, m | 126, n)
    else:
        head = struct.pack("!BBQ", first, m | 127, n)
    if not mask:
        return head + payload
    key = bytes([0x37, 0xFA, 0x21, 0x3D])
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def test_accept_value_matches_hashlib(driver: Path) -> None:
    for _ in range(5):
        key = base64.b64encode(os.urandom(16)).decode()
        expected = base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        out = subprocess.run([str(driver), "accept", key], stdout=subprocess.PIPE, text=True, check=True).stdout
        assert out.strip() == expected.decode()
    # RFC 6455's own example
    out = subprocess.run([str(driver), "accept", "dGhlIHNhbXBsZSBub25jZQ=="], stdout=subprocess.PIPE, text=True).stdout
    assert out.strip() == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_valid_frames(driver: Path) -> None:
    big = os.urandom(70000)
    cases = [
        frame(1, "héllo €".encode()),
        frame(2, big),
        frame(1, b"ab", fin=False) + frame(9, b"ping!") + frame(0, b"cd", fin=False) + frame(0, b"ef"),
        frame(10, b"") + frame(8, struct.pack("!H", 1000) + "bye ✓".encode()),
        frame(8, b""),
        frame(1, b"") + frame(2, b""),
        frame(1, "x".encode() * 10, fin=False),  # unfinished message: no event
    ]
    t = decode(driver, cases)
    assert t[0] == [f"M t {len('héllo €'.encode())} {fnv1a('héllo €'.encode())}", "NEED"]
    assert t[1] == [f"M b 70000 {fnv1a(big)}", "NEED"]
    assert t[2] == ["P 5", f"M t 6 {fnv1a(b'abcdef')}", "NEED"]
    assert t[3] == ["O 0", "C 1000 bye ✓"]
    assert t[4] == ["C 1005 "]
    assert t[5] == [f"M t 0 {fnv1a(b'')}", f"M b 0 {fnv1a(b'')}", "NEED"]
    assert t[6] == ["NEED"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (frame(1, b"unmasked", mask=False), 1002),
        (frame(1, b"x", rsv=0x10), 1002),
        (frame(0xB, b"x"), 1002),
        (frame(3, b"x"), 1002),
        (frame(0, b"x"), 1002),
        (frame(9, b"x", fin=False), 1002),
        (frame(8, b"c" * 126), 1002),
        (frame(8, b"\x03"), 1002),
        (frame(8, struct.pack("!H", 999)), 1002),
        (frame(8, struct.pack("!H", 1006)), 1002),
        (frame(8, struct.pack("!H", 2999)), 1002),
        (frame(8, struct.pack("!H", 1000) + b"\xc3"), 1007),
        (frame(1, b"\xed\xa0\x80"), 1007),  # a UTF-16 surrogate
        (frame(1, b"\xc0\xaf"), 1007),  # overlong
        (frame(1, b"\xf4\x90\x80\x80"), 1007),  # > U+10FFFF
        (frame(1, b"\xe2\x82", fin=False) + frame(0, b"\xac"), None),  # split code point: valid
        (frame(1, b"a", fin=False) + frame(2, b"b"), 1002),
        (frame(2, b"", length=100_001)[:14], 1009),
        (struct.pack("!BBQ", 0x82, 0xFF, 1 << 63) + b"mask", 1002),
        (frame(2, b"y" * 60_000, fin=False) + frame(0, b"y" * 60_000), 1009),
    ],
    ids=["unmasked", "rsv", "opcode-b", "opcode-3", "orphan-cont", "frag-ping", "big-close", "close-1byte",
         "close-999", "close-1006", "close-2999", "close-reason-utf8", "surrogate", "overlong", "above-max-cp",
         "split-cp-ok", "nested-message", "too-big-header", "len-msb", "too-big-fragments"],
)
def test_hostile_frames(driver: Path, raw: bytes, code: int | None) -> None:
    (t,) = decode(driver, [raw], max_message=100_000)
    if code is None:
        assert t[0].startswith("M t 3"), t
    else:
        assert t[-1] == f"E {code}", t


def test_random_and_mutated_input_is_split_independent(driver: Path) -> None:
    rng = random.Random(6455)
    seeds = [
        frame(1, b"hello world"), frame(2, os.urandom(300)), frame(9, b"p"), frame(8, struct.pack("!H", 1001)),
        frame(1, b"ab", fin=False) + frame(0, b"cd"), frame(2, os.urandom(3000)),
        frame(2, b"z" * 200, length=70000)[:30],
    ]
    cases = []
    for _ in range(300):
        if rng.random() < 0.3:
            cases.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))))
            continue
        data = bytearray(b"".join(rng.choice(seeds) for _ in range(rng.randint(1, 4))))
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(data))
            data[i] = rng.getrandbits(8) if rng.random() < 0.7 else data[i] ^ (1 << rng.randrange(8))
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data) + 1)]
        cases.append(bytes(data))
    transcripts = decode(driver, cases, max_message=10_000)
    assert len(transcripts) == 300
    assert zlib.crc32(repr(transcripts).encode())  # (all decoded, split-independent: checked by the driver)
