"""Micro-batching over the wire: a model costing 2 ms + 0.05 ms per item, 200 concurrent clients.

    bash benchmarks/setup.sh && python benchmarks/batching.py [--cost sleep|spin] [--duration 10]

Contenders (same app, benchmarks/offload_app.py; server pinned to CPU 0, wrk -t1 -c200 on CPU 1):
  fasterapi batched    @app.post("/predict", batch=Batch(max_size=32, max_wait_ms=5)): one call per batch
                       (x4: concurrency=4 batches at once; on_loop: the def handler runs on the loop thread)
  fasterapi unbatched  blocking=True def: one call per request on the native pool (40 threads)
  fastapi+uvicorn      def endpoint: one call per request on FastAPI's threadpool (40 threads)
Prints req/s and p99 per contender, and the batch sizes/waits FasterAPI saw.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from wire import PEERS, free_port, run_wrk, wait_port  # noqa: E402


def contenders(port: int, cost: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    base = {"BENCH_COST": cost}
    fasterapi = [sys.executable, "-m", "fasterapi", "run", "offload_app:app", "--port", str(port)]
    return {
        "fasterapi batched": (fasterapi, {**base, "BENCH_BATCH": "1"}),
        "fasterapi batched x4": (fasterapi, {**base, "BENCH_BATCH": "1", "BENCH_BATCH_CONCURRENCY": "4"}),
        "fasterapi batched on_loop": (fasterapi, {**base, "BENCH_BATCH": "1", "BENCH_BATCH_ON_LOOP": "1"}),
        "fasterapi unbatched": (fasterapi, base),
        "fastapi+uvicorn": (
            [str(PEERS / "uvicorn"), "offload_app:app", "--port", str(port), "--loop", "uvloop", "--http",
             "httptools", "--no-access-log", "--log-level", "warning"],
            {**base, "BENCH_FRAMEWORK": "fastapi"},
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cost", choices=["sleep", "spin"], default="sleep")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    results: dict[str, dict] = {}
    for name, (cmd, env) in contenders(0, args.cost).items():
        if args.only and name not in args.only.split(","):
            continue
        port = free_port()
        cmd = [c if c != "0" else str(port) for c in cmd]
        full_env = dict(os.environ, **env)
        if any((HERE.parent / "src" / "fasterapi").glob("_core*.so")):  # a development tree
            full_env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])
        proc = subprocess.Popen(["taskset", "-c", "0", *cmd], cwd=HERE, env=full_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, proc)
            url = f"http://127.0.0.1:{port}/predict"
            run_wrk(url, "predict.lua", 2, args.connections)  # warm-up
            results[name] = run_wrk(url, "predict.lua", args.duration, args.connections)
            if "unbatched" not in name and "fasterapi" in name:
                results[name]["batch_stats"] = httpx.get(f"http://127.0.0.1:{port}/batch-stats").json()
            print(f"{name:22} {results[name]}", file=sys.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"batching-{args.cost}.json").write_text(json.dumps(results, indent=2))
    what = "time.sleep (GIL released)" if args.cost == "sleep" else "busy loop (GIL held)"
    print(f"\nmodel cost 2 ms + 0.05 ms/item as {what}; wrk -t1 -c{args.connections} -d{args.duration}s\n")
    print("| contender | req/s | p99 ms | non-2xx |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['rps']:,.0f} | {r['p99_ms']:.1f} | {r['non2xx']} |")
    for name, r in results.items():
        s = r.get("batch_stats")
        if s:
            print(f"\n{name}: {s['batches']} batches, mean size {s['mean_size']:.1f}, "
                  f"wait ms mean {s['wait_ms']['mean']:.2f} / p99 {s['wait_ms']['p99']:.2f}, "
                  f"run ms mean {s['run_ms']['mean']:.2f}")


if __name__ == "__main__":
    main()
