"""In-process costs behind docs/performance.md: per-stage timings of a Python route, a constant
route and a C++ native route; allocations per request; and each engine switch on/off.

    cmake -S examples/native -B build/native-example && cmake --build build/native-example
    FASTERAPI_NATIVE_LIB=build/native-example/libfast.so python benchmarks/stages.py [--iterations 100000]

Everything runs through one in-memory engine connection (the socket loop's parser, router,
bridge and serializer; no socket), with the GIL held as on the loop thread. Each on/off pair is
measured in alternating rounds and reported as the median of the rounds, because the machine may
be shared: compare figures within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("FASTERAPI_NATIVE_LIB", str(HERE.parent / "build" / "native-example" / "libfast.so"))

from perf_app import app  # noqa: E402

from fasterapi import _core  # noqa: E402

POST_BODY = b'{"name":"widget","price":9.5,"tags":["a","b"]}'


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


POST_ITEMS = (b"POST /items HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(POST_BODY)).encode() + b"\r\n\r\n" + POST_BODY)
STAGE_ROUTES = {
    "Python route (GET /py/hello)": get("/py/hello"),
    "constant route (GET /const/hello, static=True)": get("/const/hello"),
    "C++ native route (GET /native/hello)": get("/native/hello"),
    "C++ native route, release_gil=True (GET /native/hello-nogil)": get("/native/hello-nogil"),
    "Python route with params (GET /items/123?q=abc)": get("/items/123?q=abc"),
    "native route with params (GET /native/items/123?q=abc)": get("/native/items/123?q=abc"),
    "Python route, pydantic body (POST /items)": POST_ITEMS,
}
SWITCH_ROUTES = {"GET /json": get("/json"), "GET /items/123?q=abc": get("/items/123?q=abc"), "POST /items": POST_ITEMS}
DISTINCT = 2048  # more values than the pool's 256 slots: mostly misses
POOL_ROUTES = {
    "GET /json": (get("/json"), 1),
    "GET /items/123456?q=abcdef (the same values every time)": (get("/items/123456?q=abcdef"), 1),
    f"GET /items/{{id}}?q={{v}} ({DISTINCT:,} distinct values in turn)": (
        b"".join(get(f"/items/{100000 + i}?q=v{i:05d}") for i in range(DISTINCT)), DISTINCT),
    "POST /items": (POST_ITEMS, 1),
}


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def response_of(engine, raw: bytes) -> bytes:
    conn = engine.connection()
    conn.feed(raw)
    return conn.read()


def stages(engine, n: int, rounds: int) -> list[dict[str, float]]:
    routes = {name: raw for name, raw in STAGE_ROUTES.items()
              if b"/native/" not in raw or os.path.exists(os.environ["FASTERAPI_NATIVE_LIB"])}
    for raw in routes.values():
        response_of(engine, raw)  # a constant route captures its response on the first request
    # Round-robin over the routes, so that every route sees the same machine.
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in routes}
    cpu: dict[str, list[float]] = {name: [] for name in routes}
    parse: dict[str, list[float]] = {name: [] for name in routes}
    for _ in range(rounds):
        for name, raw in routes.items():
            runs[name].append(_core.bench_stages(engine, raw, n))
            cpu[name].append(med(_core.bench_cpu(engine, raw, n)))
            parse[name].append(med(_core.bench_parse(raw, n)))
    rows = []
    for name, raw in routes.items():
        row = {k: med([r[k] for r in runs[name]]) for k in runs[name][0]}
        # The stages come net of their clock stamps; parse+framing is what the unprofiled total
        # (thread CPU time, no stamps) leaves.
        row["unprofiled"] = med(cpu[name])
        row["parse"] = max(0.0, row["unprofiled"] - sum(row[k] for k in ("route", "dispatch", "handler", "serialize")))
        row["parse_only"] = med(parse[name])  # wall clock: batches of 1,000
        row["send"] = _core.bench_send(response_of(engine, raw), max(2000, n // 20))
        row["name"] = name  # type: ignore[assignment]
        rows.append(row)
    return rows


def switch(engine, attr: str, on: object, off: object, raw: bytes, n: int, rounds: int,
           per: int = 1) -> tuple[float, float, float]:
    """(ns off, ns on, median of the on/off ratios of adjacent pairs): short measurements, off and
    on alternating, `4 * rounds` pairs (`raw` holds `per` requests)."""
    offs, ons, ratios = [], [], []
    m = max(2000, n // 4)
    for i in range(4 * rounds):
        pair = {}
        order = ((False, off), (True, on)) if i % 2 == 0 else ((True, on), (False, off))
        for is_on, value in order:
            setattr(engine, attr, value)
            if per == 1:
                pair[is_on] = med(_core.bench_cpu(engine, raw, m))
            else:
                pair[is_on] = med(_core.bench_cpu(engine, raw, max(10, m // per), 1)) / per
        offs.append(pair[False])
        ons.append(pair[True])
        ratios.append(pair[True] / pair[False])
    setattr(engine, attr, off)
    return med(offs), med(ons), med(ratios)


def allocs(engine, attr: str, value: object, raw: bytes, n: int) -> dict[str, float]:
    old = getattr(engine, attr)
    setattr(engine, attr, value)
    try:
        return _core.bench_allocs(engine, raw, n)
    finally:
        setattr(engine, attr, old)


def leak_check(engine, raw: bytes, n: int) -> int:
    """sys.getallocatedblocks() after minus before n more feeds of `raw` (0: nothing retained)."""
    _core.bench_connection(engine, raw, 10, 10)
    before = sys.getallocatedblocks()
    _core.bench_connection(engine, raw, n, n)  # one batch: one float back
    return sys.getallocatedblocks() - before


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    n, rounds = args.iterations, args.rounds
    engine = app._build_engine()
    out: dict[str, object] = {"python": sys.version.split()[0], "iterations": n, "rounds": rounds}

    print(f"in-process, Python {out['python']}, {n:,} requests per measurement, median of {rounds} rounds\n")
    print("## Per-stage cost (ns per request)\n")
    print("| route | parse+framing | route | dispatch | handler | serialize | total (in-process) | parser alone | write: send() on loopback |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = stages(engine, n, rounds)
    for r in rows:
        print(f"| {r['name']} | {r['parse']:,.0f} | {r['route']:,.0f} | {r['dispatch']:,.0f} | {r['handler']:,.0f} | "
              f"{r['serialize']:,.0f} | {r['unprofiled']:,.0f} | {r['parse_only']:,.0f} | {r['send']:,.0f} |")
    print(f"\n(one clock stamp costs {rows[0]['timer']:.0f} ns here; the stages are net of their stamps)")
    out["stages"] = rows

    print("\n## JSON: engine writer vs json.dumps -> bytes -> copy (engine.json_via_dumps)\n")
    print("| request | native writer ns | json.dumps ns | dumps / native (paired) |")
    print("|---|---|---|---|")
    out["json_via_dumps"] = {}
    for name, raw in SWITCH_ROUTES.items():
        off, on, ratio = switch(engine, "json_via_dumps", True, False, raw, n, rounds)
        print(f"| {name} | {off:,.0f} | {on:,.0f} | {ratio:.2f}× |")
        out["json_via_dumps"][name] = {"native": off, "dumps": on}  # type: ignore[index]

    print("\n## Parameter pooling (engine.pool_params)\n")
    print("| request | allocs/req off (mem+obj) | allocs/req on | ns off | ns on | on / off (paired) | blocks retained (10,000 requests) |")
    print("|---|---|---|---|---|---|---|")
    out["pool_params"] = {}
    for name, (raw, per) in POOL_ROUTES.items():
        reps = max(1, 10_000 // per)
        a_off = {k: v / per for k, v in allocs(engine, "pool_params", False, raw, reps).items()}
        a_on = {k: v / per for k, v in allocs(engine, "pool_params", True, raw, reps).items()}
        off, on, ratio = switch(engine, "pool_params", True, False, raw, n, rounds, per)
        engine.pool_params = True
        leak = leak_check(engine, raw, reps)
        engine.pool_params = False
        print(f"| {name} | {a_off['mem'] + a_off['obj']:.1f} | {a_on['mem'] + a_on['obj']:.1f} | {off:,.0f} | {on:,.0f} | "
              f"{ratio:.2f}× | {leak} |")
        out["pool_params"][name] = {"allocs_off": a_off, "allocs_on": a_on, "ns_off": off, "ns_on": on,  # type: ignore[index]
                                    "ratio": ratio, "retained_blocks": leak}
    stats_before = engine.stats
    for raw in SWITCH_ROUTES.values():
        _core.bench_connection(engine, raw, 1000)
    stats_after = engine.stats
    made = stats_after["request_data"] - stats_before["request_data"]
    print(f"\nRequestData objects made for {3 * 1000:,} fast-path requests above: {made}")
    out["request_data_made_on_fast_path"] = made

    print("\n## Response bodies: copied vs referenced (engine.zero_copy_min), in-process (no socket)\n")
    print("| request | copy ns | reference ns | reference / copy (paired) |")
    print("|---|---|---|---|")
    out["zero_copy_inprocess"] = {}
    for size in ("1k", "64k", "1m"):
        raw = get(f"/bytes/{size}")
        m = max(2000, n // (1 if size == "1k" else 10 if size == "64k" else 100))
        off, on, ratio = switch(engine, "zero_copy_min", 0, -1, raw, m, rounds)
        print(f"| GET /bytes/{size} | {off:,.0f} | {on:,.0f} | {ratio:.2f}× |")
        out["zero_copy_inprocess"][size] = {"copy": off, "reference": on}  # type: ignore[index]
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
