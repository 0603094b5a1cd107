"""CPU-ns per request of the engine's first step of an `async def` handler, against the same
route as `def` with --def-inline: `_core.bench_cpu` (the bench build) on engines configured as
served (task_starter, task_hooks given an event loop that is not running), alternating rounds.

    PYTHONPATH=/tmp/snapb taskset -c 0 python3 benchmarks/first_step_cpu.py --iterations 50000 --rounds 7
    PYTHONPATH=/tmp/snapb taskset -c 0 python3 benchmarks/first_step_cpu.py --loop --iterations 5000 --rounds 5

`--loop`: inprocess.py's loop column instead (a running loop feeding the requests, CPU-us per
request, the median of batches of 1,000).

`--only KIND`: one engine, one bench_cpu call of --iterations, nothing printed: for counting
instructions, which load does not change (valgrind on the interpreter's own binary, not a pyenv
shim; the difference of two runs, divided by the difference of their iterations, is per request):

    for n in 2000 12000; do PYTHONHASHSEED=0 PYTHONPATH=/tmp/snapb setarch $(uname -m) -R valgrind --tool=callgrind \
      --collect-atstart=no --toggle-collect='*timed_batches*' --callgrind-out-file=/tmp/cg.$n \
      $(python3 -c 'import sys; print(sys.executable)') benchmarks/first_step_cpu.py --only edits --iterations $n; done
    callgrind_annotate /tmp/cg.2000 | grep TOTALS; callgrind_annotate /tmp/cg.12000 | grep TOTALS

Columns: `edits` (the engine edits asyncio's current-task dict itself, as served since
2026-12-06 03:50), `calls` (it calls asyncio's _enter_task/_leave_task: task_hooks without the
dict, as before), `def --def-inline`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import inprocess as ip  # noqa: E402 - after the path

from fasterapi import _core, _runtime  # noqa: E402

KINDS = ["edits", "calls", "def --def-inline"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--request", default="GET /json", choices=list(ip.REQUESTS))
    ap.add_argument("--loop", action="store_true", help="inprocess.py's loop column instead of bench_cpu")
    ap.add_argument("--only", choices=KINDS, help="one engine, one bench_cpu call (instruction counts)")
    args = ap.parse_args()
    if args.loop:
        return loop_rounds(args)
    direct = ip.load_bench_app(False)
    raw = ip.REQUESTS[args.request]
    loop = asyncio.new_event_loop()

    def engine(kind: str) -> Any:
        inline = kind == "def --def-inline"
        e, _handler, _reports = ip.engine_for(direct.app_sync if inline else direct.app_async, inline)
        e.task_starter = _runtime.start_task
        if not inline:
            hooks = _runtime.task_hooks(loop)
            assert hooks is not None
            e.task_hooks = hooks if kind == "edits" else hooks[:6]
        if not ip.sync_status(e, raw).startswith(b"HTTP/1.1 200"):
            sys.exit(f"{kind}: not a 200")
        return e

    if args.only:
        _core.bench_cpu(engine(args.only), raw, args.iterations)
        return
    kinds = KINDS
    engines = {k: engine(k) for k in kinds}
    res: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.rounds):
        for k in kinds:
            res[k].append(statistics.median(_core.bench_cpu(engines[k], raw, args.iterations)))
    report(f"{args.request}, CPU-ns per request", args, res, ".0f")


def loop_rounds(args: argparse.Namespace) -> None:
    direct = ip.load_bench_app(False)
    raw = ip.REQUESTS[args.request]
    kinds = KINDS
    res: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.rounds):
        for k in kinds:
            ip.ENTER_CALLS = k == "calls"
            inline = k == "def --def-inline"
            app = direct.app_sync if inline else direct.app_async
            res[k].append(ip.loop_bench(app, raw, args.iterations, inline) / 1000)
    report(f"{args.request}, loop CPU-us per request", args, res, ".3f")


def report(title: str, args: argparse.Namespace, res: dict[str, list[float]], fmt: str) -> None:
    """Each kind's median and rounds, and `def --def-inline`'s ratio to both async kinds."""
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"{title} (median of {args.rounds} alternating rounds of {args.iterations})")
    for k, v in res.items():
        print(f"  {k:18} {med[k]:6{fmt}}   rounds: {' '.join(f'{x:{fmt}}' for x in v)}")
    inline = med["def --def-inline"]
    print(f"  def --def-inline / async: edits {inline / med['edits']:.3f}, calls {inline / med['calls']:.3f}")


if __name__ == "__main__":
    main()
