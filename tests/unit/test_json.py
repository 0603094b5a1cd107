"""The engine's JSON writer (_core.dumps) against json.dumps, the behaviour it promises to match."""

import collections
import dataclasses
import enum
import json
import math
import struct
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fasterapi import _core


def ref(x, default=None):
    return json.dumps(
        x, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default
    ).encode()


def check(x):
    assert _core.dumps(x) == ref(x)


# ---------------------------------------------------------------- generated data

SPECIAL_CHARS = '"\\/\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x20\x7f\x80\xa0\xe9\u2028\u2029\ufeff\uffff\U0001f600\U0010ffff'

texts = st.one_of(
    st.text(),  # hypothesis' default alphabet: all code points except surrogates
    st.text(alphabet=st.sampled_from(SPECIAL_CHARS), max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x7F), min_size=10, max_size=100),
)

INT_EDGES = [
    0, 1, -1, 9, 10, 99, 100, 2**31 - 1, -(2**31), 2**32,
    2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**63 + 1, -(2**63), -(2**63) - 1, -(2**63) + 1,
    2**64 - 1, 2**64, 2**64 + 1, -(2**64), 10**19, 10**20, 2**200, -(2**200), 10**100,
]
ints = st.one_of(st.integers(), st.sampled_from(INT_EDGES), st.integers(-(2**70), 2**70))

FLOAT_EDGES = [
    0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 123.0, 1e15, 1e16, 1e17, 9999999999999998.0,
    1e-4, 1e-5, 1.5e-5, 0.00012345, 123456789012345.6, 1234567890123456.7,
    5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
    -1.7976931348623157e308, 2.0**63, 2.0**64, 1 / 3, 2 / 3, math.pi, 1e22, 1e23, 5e-5,
]


def _bits_to_float(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


finite_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(FLOAT_EDGES),
    st.integers(0, 2**64 - 1).map(_bits_to_float).filter(math.isfinite),  # every bit pattern
    st.floats(min_value=-1e-300, max_value=1e-300, allow_subnormal=True),
)

scalars = st.one_of(st.none(), st.booleans(), ints, finite_floats, texts)
keys = st.one_of(texts, ints, finite_floats, st.booleans(), st.none())

json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.lists(children, max_size=6).map(tuple),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=30,
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_matches_json_dumps(x):
    check(x)


@settings(max_examples=3000)
@given(finite_floats)
def test_floats_match_repr(f):
    assert _core.dumps(f) == repr(f).encode()


@settings(max_examples=1000)
@given(ints)
def test_ints(i):
    assert _core.dumps(i) == str(i).encode()


@settings(max_examples=1000)
@given(texts)
def test_strings(s):
    check(s)
    check({s: s})


@pytest.mark.parametrize("x", INT_EDGES + FLOAT_EDGES)
def test_number_edges(x):
    check(x)
    check({x: x})


def test_simple_values():
    for x in [None, True, False, "", [], {}, (), [[]], [{}], {"a": []}, "Hello, World!"]:
        check(x)
    assert _core.dumps({"message": "Hello, World!"}) == b'{"message":"Hello, World!"}'


def test_string_escapes():
    s = "".join(chr(c) for c in range(0x80)) + "\u2028\u2029\U0001f600é"
    check(s)
    assert _core.dumps("\x00\x1f\x7f") == b'"\\u0000\\u001f\x7f"'


def test_long_strings_and_escape_growth():
    for s in ['"' * 100_000, "\x01" * 50_000, ("a" * 31 + "\n") * 5000, "é" * 70_000,
              "x" * 1_000_000, "a\\b" * 40_000]:
        check(s)
        check([s, {s: s}])


def test_dict_keys():
    check({1: "a", -2: "b", 1.5: "c", True: "d", False: "e", None: "f", 2**70: "g"})
    check({-0.0: 1, 1e16: 2, 5e-324: 3})
    with pytest.raises(TypeError, match="keys must be str, int, float, bool or None, not tuple"):
        _core.dumps({(1, 2): 3})
    with pytest.raises(TypeError):
        _core.dumps({b"x": 1})


def test_big_containers():
    check(list(range(100_000)))
    check({str(i): [i, float(i) / 7, str(i)] for i in range(10_000)})


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats(bad):
    for x in (bad, [1, bad], {"a": bad}, {bad: 1}):
        with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
            _core.dumps(x)


def test_cycles():
    a = []
    a.append(a)
    with pytest.raises(ValueError):
        _core.dumps(a)
    d = {}
    d["d"] = d
    with pytest.raises(ValueError):
        _core.dumps(d)
    d2 = {"x": [1, {"y": None}]}
    d2["x"][1]["y"] = d2
    with pytest.raises(ValueError):
        _core.dumps(d2)


def nest(n, leaf=1):
    x = leaf
    for i in range(n):
        x = [x] if i % 2 else {"k": x}
    return x


def test_depth_limit():
    check(nest(256))
    for n in (257, 1000, 100_000):
        with pytest.raises(ValueError):
            _core.dumps(nest(n))


def test_unknown_object():
    class Thing:
        pass

    with pytest.raises(TypeError, match="Object of type Thing is not JSON serializable"):
        _core.dumps(Thing())
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        _core.dumps({"a": [1, {2}]})
    with pytest.raises(TypeError, match="Object of type bytes is not JSON serializable"):
        _core.dumps(b"x")


def test_lone_surrogates():
    for x in ("\ud800", "a\udfffb", ["ok", "\udc80"], {"\ud800": 1}):
        with pytest.raises(UnicodeEncodeError):
            _core.dumps(x)


def test_huge_int_limit_like_json():
    n = 10 ** 5000
    with pytest.raises(ValueError):
        json.dumps(n)
    with pytest.raises(ValueError):
        _core.dumps(n)


# ---------------------------------------------------------------- default=

def test_default_used():
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    def default(o):
        if isinstance(o, Point):
            return {"x": o.x, "y": o.y}
        if isinstance(o, set):
            return sorted(o)
        raise TypeError(f"nope: {type(o).__name__}")

    x = {"p": Point(1, 2.5), "s": {3, 1, 2}, "l": [Point("a", [Point(0, 0)])]}
    assert _core.dumps(x, default) == ref(x, default)
    assert _core.dumps(x, default=default) == ref(x, default)
    with pytest.raises(TypeError, match="nope: bytes"):
        _core.dumps([b"x"], default)
    # None means no default
    with pytest.raises(TypeError, match="not JSON serializable"):
        _core.dumps({1, 2}, None)
    with pytest.raises(TypeError, match="not JSON serializable"):
        _core.dumps({1, 2}, default=None)


def test_default_returning_itself_is_bounded():
    class Loop:
        pass

    with pytest.raises(ValueError):
        _core.dumps(Loop(), lambda o: o)


def test_default_mutating_containers_is_safe():
    items = []

    def default(o):
        items.clear()
        d.clear()
        return "gone"

    class Obj:
        pass

    items.extend([Obj(), Obj(), "tail", 1.5])
    d = {"a": Obj(), "b": Obj()}
    out = _core.dumps([items, d], default)
    assert out.startswith(b'[["gone"')
    json.loads(out)


def test_dataclass_via_default():
    @dataclasses.dataclass
    class Item:
        name: str
        price: float
        tags: list

    def default(o):
        if dataclasses.is_dataclass(o):
            return dataclasses.asdict(o)
        raise TypeError

    x = [Item("a", 1.5, ["x"]), {"i": Item("b\n", 2.0, [])}]
    assert _core.dumps(x, default) == ref(x, default)


# ---------------------------------------------------------------- subclasses, Enum, pydantic

def test_builtin_subclasses_like_json_dumps():
    class S(str):
        def __str__(self):
            return "other"

    class I(int):
        def __repr__(self):
            return "other"

    class F(float):
        def __repr__(self):
            return "other"

    class L(list):
        pass

    class T(tuple):
        pass

    class D(dict):
        pass

    P = collections.namedtuple("P", "x y")
    od = collections.OrderedDict([("a", 1), ("b", 2), ("c", 3)])
    od.move_to_end("a")
    x = [S("s\n"), I(5), I(2**80), F(1.5), L([1, I(2)]), T((3,)), D(a=D(b=1)), P(1, "y"), od,
         {S("k"): 1, I(7): 2, F(0.5): 3}, collections.defaultdict(int, z=1)]
    check(x)


def test_dict_subclass_items_override():
    class Weird(dict):
        def items(self):
            return [("only", 1)]

    check(Weird(a=1, b=2))


class Color(enum.Enum):
    RED = "red"
    TUPLE = (1, 2)
    NESTED = {"k": [1, 2.5]}


class Size(str, enum.Enum):
    S = "small"
    L = "lärge\n"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2**70


class Ratio(float, enum.Enum):
    HALF = 0.5


class Flags(enum.IntFlag):
    A = 1
    B = 2


def test_enums_by_value():
    assert _core.dumps(Color.RED) == b'"red"'
    assert _core.dumps(Color.TUPLE) == b"[1,2]"
    assert _core.dumps(Color.NESTED) == b'{"k":[1,2.5]}'
    assert _core.dumps([Size.S, Size.L]) == '["small","lärge\\n"]'.encode()
    assert _core.dumps({"lvl": [Level.LOW, Level.HIGH]}) == b'{"lvl":[1,1180591620717411303424]}'
    assert _core.dumps(Ratio.HALF) == b"0.5"
    assert _core.dumps(Flags.A | Flags.B) == b"3"
    # mixin enums match json.dumps exactly
    check([Size.S, Size.L, Level.LOW, Level.HIGH, Ratio.HALF])


def test_enum_keys_like_json_dumps():
    check({Size.S: 1, Level.HIGH: 2, Ratio.HALF: 3})
    with pytest.raises(TypeError, match="keys must be"):
        _core.dumps({Color.RED: 1})


def test_pydantic_models():
    pydantic = pytest.importorskip("pydantic")

    class Inner(pydantic.BaseModel):
        name: str
        score: float = 1.5

    class Outer(pydantic.BaseModel):
        id: int
        text: str
        inner: Inner
        items: list[Inner] = []
        tags: dict[str, int] = {}
        size: Size = Size.S
        maybe: float | None = None
        alias_field: int = pydantic.Field(default=3, alias="aliasField")

    m = Outer(id=2**40, text='é "q"\n\x01😀', inner=Inner(name="a"),
              items=[Inner(name="b", score=1e-7), Inner(name="c", score=1e16)], tags={"x": 1},
              aliasField=4)
    assert _core.dumps(m) == m.model_dump_json(by_alias=True).encode()  # as FastAPI's jsonable_encoder
    assert _core.dumps(m.inner) == m.inner.model_dump_json().encode()
    wrapped = _core.dumps({"data": [m, m.inner], "n": 1})
    assert wrapped == (b'{"data":[' + m.model_dump_json(by_alias=True).encode() + b"," +
                       m.inner.model_dump_json().encode() + b'],"n":1}')
    json.loads(wrapped)


def test_pydantic_root_model_and_dataclass():
    pydantic = pytest.importorskip("pydantic")

    Root = pydantic.RootModel[list[int]]
    r = Root([1, 2, 3])
    assert _core.dumps(r) == r.model_dump_json().encode()

    @pydantic.dataclasses.dataclass
    class PD:
        a: int
        b: str

    v = PD(1, "x")
    assert _core.dumps(v) == pydantic.TypeAdapter(PD).dump_json(v)


def test_refcounts_stable():
    if not hasattr(sys, "getrefcount"):
        pytest.skip("no refcounts")
    s = "x" * 10
    big = 2**100
    obj = {"a": [s, big, 1.5], s: (s,)}
    before = (sys.getrefcount(s), sys.getrefcount(big), sys.getrefcount(obj))
    for _ in range(100):
        _core.dumps(obj)
        with pytest.raises(TypeError):
            _core.dumps([s, big, object()])
    assert (sys.getrefcount(s), sys.getrefcount(big), sys.getrefcount(obj)) == before
