"""The request-field readers of the compiled plans (src/native/http/fields.cpp), through
tests/native/fields_driver.cpp, against what Starlette and the standard library answer for the same
input: query parameters (QueryParams.get: the last one), cookies (starlette's cookie_parser: the last
one), percent-decoding (urllib.parse.unquote_to_bytes), header lookup (the first field, any case)
and the content-type rule.

Random inputs are printable ASCII plus tab. A known difference left out: Python's str.strip() (in
cookie_parser) also strips \\v, \\f and non-ASCII whitespace around a cookie, strip_ows only space
and tab."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from starlette.datastructures import QueryParams
from starlette.requests import cookie_parser

from test_ring import DRIVERS, SOURCES, build

SOURCES["fields_driver"] = ["tests/native/fields_driver.cpp", "src/native/http/fields.cpp"]


@pytest.fixture(scope="module")
def driver() -> Path:
    return build("fields_driver", DRIVERS)


def h(b: bytes | str) -> str:
    if isinstance(b, str):
        b = b.encode("latin-1")
    return b.hex() or "-"


def ask(driver: Path, lines: list[str]) -> list[str]:
    r = subprocess.run([str(driver)], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert len(out) == len(lines)
    return out


def value(answer: str) -> bytes | None:
    return None if answer == "N" else bytes.fromhex(answer[2:])


ALPHABET = "abcAB=&;%+ \t\"\\2F41x_-."


def rand_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(n)))


def rand_query(rng: random.Random) -> str:
    keys = ["a", "b", "a+b", "a%20b", "%61", "A", "", "a=", "%zz"]
    pairs = [rng.choice(keys + [rand_text(rng, 4)]) + rng.choice(["", "=" + rand_text(rng, 8)])
             for _ in range(rng.randrange(5))]
    return "&".join(pairs)


def rand_cookie(rng: random.Random) -> str:
    ows = ["", " ", "\t", "  "]
    names = ["a", "b", "A", rand_text(rng, 3)]
    chunks = [rng.choice(ows) + rng.choice(names) + rng.choice(ows) + rng.choice(["=", ""]) + rng.choice(ows)
              + rand_text(rng, 8) + rng.choice(ows) for _ in range(rng.randrange(5))]
    return rng.choice([";", "; "]).join(chunks)


def test_query_lookup_answers_as_starlette(driver: Path) -> None:
    rng = random.Random(11)
    cases = [("a=1&a=2", "a"), ("a", "a"), ("=x", ""), ("b=1", "a"), ("a%3D=1", "a="), ("a+b=c+d", "a b"),
             ("x=%zz&x=%41", "x"), ("&&a=&", "a"), ("", "a")]
    cases += [(rand_query(rng), rng.choice(["a", "b", "a b", "A", "", "a="])) for _ in range(3000)]
    answers = ask(driver, [f"Q {h(q)} {h(k)}" for q, k in cases])
    checked = 0
    for (q, k), ans in zip(cases, answers, strict=True):
        got = value(ans)
        expected = QueryParams(q).get(k)
        if got is None:
            assert expected is None, (q, k)
            continue
        try:
            text = got.decode("utf-8")
        except UnicodeDecodeError:  # the engine's str conversion fails: the Python path decides
            continue
        assert text == expected, (q, k)
        checked += 1
    assert checked > 500


def test_cookie_lookup_answers_as_starlette(driver: Path) -> None:
    rng = random.Random(12)
    cases = [("a=1; a=2", "a"), (" a = x ; b=y", "a"), ("a", "a"), ("b=1;;a=", "a"), ("a=\t1\t", "a")]
    cases += [(rand_cookie(rng), rng.choice(["a", "b", "A"])) for _ in range(3000)]
    answers = ask(driver, [f"C {h(c)} {h(n)}" for c, n in cases])
    checked = 0
    for (c, n), ans in zip(cases, answers, strict=True):
        got = value(ans)
        expected = cookie_parser(c).get(n)
        if got is None:
            assert expected is None, (c, n)
            continue
        if b'"' in got or b"\\" in got:  # quoted or escaped: the engine takes the Python path
            continue
        assert got.decode("latin-1") == expected, (c, n)
        checked += 1
    assert checked > 500


def test_percent_decode_is_unquote(driver: Path) -> None:
    rng = random.Random(13)
    texts = ["%41", "%4", "%", "%%41", "a+b", "%zz%41", "%E2%82%AC", "%2"] + [rand_text(rng, 20) for _ in range(3000)]
    plain = ask(driver, [f"D {h(t)}" for t in texts])
    plus = ask(driver, [f"P {h(t)}" for t in texts])
    for t, a, b in zip(texts, plain, plus, strict=True):
        assert value(a) == unquote_to_bytes(t), t
        assert value(b) == unquote_to_bytes(t.replace("+", " ")), t


def test_first_header_any_case(driver: Path) -> None:
    assert ask(driver, ["H " + h("accept"), "H " + h("ACCEPT"), "H " + h("x-empty"), "H " + h("missing")]) == [
        "F " + h("a"), "F " + h("a"), "F ", "N"]


@pytest.mark.parametrize(("content_type", "kind"), [
    ("", "absent"), ("  ", "absent"), (";charset=utf-8", "absent"),
    ("application/json", "json"), ("Application/JSON; charset=utf-8", "json"), ("application/json\t", "json"),
    ("application/vnd.api+json", "json"), ("application/problem+JSON ;x=y", "json"), ("+json", "other"),
    ("text/plain", "other"), ("application/jsonx", "other"), ("application/x-www-form-urlencoded", "other"),
])
def test_media_kind(driver: Path, content_type: str, kind: str) -> None:
    assert ask(driver, [f"M {h(content_type)}"]) == [kind]
