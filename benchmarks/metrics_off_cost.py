"""One figure per request kind: median ns/request of `_core.bench_cpu` (200,000 requests) on
bench_app:app_async's `GET /json` and `GET /items/123?q=abc`, metrics off. Run it alternately
against two snapshots (e.g. this tree and the commit before --metrics-path) to see what the
switched-off counting costs:

    for i in 1 2 3 4 5; do
      echo "base $(PYTHONPATH=/tmp/snap-base taskset -c 0 python3 benchmarks/metrics_off_cost.py)"
      echo "this $(PYTHONPATH=/tmp/snap-metrics taskset -c 0 python3 benchmarks/metrics_off_cost.py)"
    done
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inprocess import REQUESTS, engine_for, load_bench_app  # noqa: E402

from fasterapi import _core  # noqa: E402


def main() -> None:
    app = load_bench_app(False).app_async
    out = []
    for case in ["GET /json", "GET /items/123?q=abc"]:
        engine, _handler, _reports = engine_for(app)
        out.append(f"{statistics.median(_core.bench_cpu(engine, REQUESTS[case], 200000)):.0f}")
    print(" ".join(out))


if __name__ == "__main__":
    main()
