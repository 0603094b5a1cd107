"""In-process cost of each common FastAPI response idiom, and how the engine writes it.

    taskset -c 0 python benchmarks/idioms.py [--iterations 100000] [--loop-iterations 10000]

One route per idiom (benchmarks/idioms_app.py, all `async def`), the engine built as `fasterapi
run` builds it. Per route: the compiler's verdict and how a response is written (`fasterapi routes`
shows the same: `RouteReport.writer`), then CPU-µs per request by the two methods of
benchmarks/inprocess.py: `bench_cpu` (the C++ loop, thread CPU time; the first step of the handler
stepped inline) and `loop` (fed from loop callbacks on an asyncio loop, handlers started as tasks
as served; process CPU time). The bench build of `_core` is needed (see inprocess.py).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import idioms_app  # noqa: E402
from inprocess import bench_cpu, engine_for, loop_bench  # noqa: E402

ROWS = [
    ("dict, default response class", idioms_app.app, "/dict"),
    ("dict, `status_code=201`", idioms_app.app, "/status-201"),
    ("dict, `response_class=JSONResponse`", idioms_app.app, "/class-json"),
    ("dict, `response_class=ORJSONResponse`", idioms_app.app, "/class-orjson"),
    ("dict, `response_class=UJSONResponse`", idioms_app.app, "/class-ujson"),
    ("dict, `default_response_class=ORJSONResponse`", idioms_app.app_orjson, "/dict"),
    ("str, `response_class=PlainTextResponse`", idioms_app.app, "/class-plaintext"),
    ("str, `response_class=HTMLResponse`", idioms_app.app, "/class-html"),
    ("returns `Response(...)`", idioms_app.app, "/returns-response"),
    ("returns `PlainTextResponse(...)`", idioms_app.app, "/returns-plaintext"),
    ("returns `JSONResponse(...)`", idioms_app.app, "/returns-jsonresponse"),
    ("dict, `response_model=Msg`", idioms_app.app, "/response-model"),
    ("model, `-> Msg` annotation", idioms_app.app, "/annotation"),
    ("model, no response_model", idioms_app.app, "/model"),
    ("10 models, `response_model=list[Msg]`", idioms_app.app, "/response-model-list"),
    ("10 models, no response_model", idioms_app.app, "/model-list"),
]


def report_of(app: object, path: str) -> str:
    _engine, _handler, reports = engine_for(app)
    for r in reports:
        if r.path == path:
            return r.writer if r.compiled else f"ASGI: {r.reason}"
    return "?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100_000, help="per bench_cpu figure")
    ap.add_argument("--loop-iterations", type=int, default=10_000, help="per loop-driven figure")
    args = ap.parse_args()
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    lines = []
    for label, app, path in ROWS:
        raw = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
        how = report_of(app, path)
        cpu = bench_cpu(app, raw, args.iterations, ok=b"HTTP/1.1 20")
        loop = loop_bench(app, raw, args.loop_iterations)
        cpu_s = "needs the loop" if cpu is None else f"{cpu / 1000:,.2f}"
        line = f"| {label} | `GET {path}` | {how} | {cpu_s} | {loop / 1000:,.2f} |"
        print(line, file=sys.stderr)
        lines.append(line)
    finished = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
    print(f"\nin-process CPU-µs per request, median of batches of 1,000: bench_cpu {args.iterations:,}, "
          f"loop {args.loop_iterations:,} requests per figure; Python {sys.version.split()[0]}, "
          f"{started} – {finished} UTC\n")
    print("| idiom | route | how the engine writes it (`fasterapi routes`) | bench_cpu | loop |")
    print("|---|---|---|---:|---:|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
