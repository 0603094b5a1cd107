"""blocking=True endpoints: the engine's native pool (lock-free rings + eventfd in the socket loop)
vs asyncio's executor (run_in_executor), same thread count, over the wire.

    python benchmarks/blocking.py [--duration 10] [--connections 64] [--threads 40]

benchmarks/offload_app.py, server pinned to CPU 0, wrk -t1 on CPU 1:
  /block             a trivial endpoint: the hand-off cost itself (native fast plan)
  /block-model       a trivial endpoint with a response model (Python path, awaiting engine.offload)
  /block-sleep?ms=1  an endpoint that sleeps 1 ms (releases the GIL)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from wire import free_port, run_wrk, wait_port  # noqa: E402

def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PATHS = {"trivial": "/block", "response model": "/block-model", "sleep 1 ms": "/block-sleep?ms=1"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs; the median is reported")
    args = ap.parse_args()
    runs: dict[str, dict[str, list[dict]]] = {"native": {}, "executor": {}}
    for pool in ("native", "executor") * args.repeats:
        port = free_port()
        env = dict(os.environ, BENCH_POOL=pool, BENCH_THREADS=str(args.threads))
        if any((HERE.parent / "src" / "fasterapi").glob("_core*.so")):  # a development tree
            env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])
        cmd = [sys.executable, "-m", "fasterapi", "run", "offload_app:app", "--port", str(port)]
        proc = subprocess.Popen(["taskset", "-c", "0", *cmd], cwd=HERE, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, proc)
            for name, path in PATHS.items():
                url = f"http://127.0.0.1:{port}{path}"
                run_wrk(url, None, 2, args.connections)
                c0 = cpu_seconds(proc.pid)
                r = run_wrk(url, None, args.duration, args.connections)
                # CPU per request: less sensitive to other load on the machine than req/s
                r["cpu_us_per_req"] = (cpu_seconds(proc.pid) - c0) / (r["rps"] * args.duration) * 1e6
                runs[pool].setdefault(name, []).append(r)
                print(f"{pool:9} {name:12} {r}", file=sys.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    def median(rs: list[dict]) -> dict:
        cpu = sorted(r["cpu_us_per_req"] for r in rs)[len(rs) // 2]
        return sorted(rs, key=lambda r: r["rps"])[len(rs) // 2] | {"all_rps": [r["rps"] for r in rs],
                                                                    "cpu_us_per_req": cpu}

    results = {pool: {name: median(rs) for name, rs in by.items()} for pool, by in runs.items()}
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"blocking-{args.threads}.json").write_text(json.dumps(results, indent=2))
    print(f"\nblocking=True, {args.threads} threads each; wrk -t1 -c{args.connections} -d{args.duration}s; "
          f"median of {args.repeats} alternating runs\n")
    print("| endpoint | native pool req/s (p99 ms) | asyncio executor req/s (p99 ms) | native / executor "
          "| server CPU µs/request native / executor |")
    print("|---|---|---|---|---|")
    for name in PATHS:
        n, x = results["native"][name], results["executor"][name]
        print(f"| {name} | {n['rps']:,.0f} ({n['p99_ms']:.2f}) | {x['rps']:,.0f} ({x['p99_ms']:.2f}) "
              f"| {n['rps'] / x['rps']:.2f}x | {n['cpu_us_per_req']:.0f} / {x['cpu_us_per_req']:.0f} |")


if __name__ == "__main__":
    main()
