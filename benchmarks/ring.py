"""Lock-free rings vs a mutex + condition_variable queue: ns per item, 1 -> 1 and N -> 1.

    python benchmarks/ring.py [--items 2000000] [--producers 4] [--repeats 5]

Builds benchmarks/ring_bench.cpp (Release) with CMake and prints a markdown table of the median of
`repeats` runs. Producers and the consumer busy-wait briefly (pause) then yield when the ring is
full/empty; the locked queue is a std::deque bounded to the same 4096 items whose consumer (and
producers, when full) sleep on condition variables.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build() -> Path:
    cmake = shutil.which("cmake") or sys.exit("cmake not found")
    build_dir = REPO / "build" / "bench-ring"
    subprocess.run([cmake, "-S", str(REPO), "-B", str(build_dir), "-DFASTERAPI_NATIVE_TESTS=ON",
                    "-DCMAKE_BUILD_TYPE=Release", "-DFASTERAPI_SANITIZE=OFF", "-DFASTERAPI_TSAN=OFF"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([cmake, "--build", str(build_dir), "--target", "ring_bench", "-j", "2"], check=True,
                   stdout=subprocess.DEVNULL)
    return build_dir / "ring_bench"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=2_000_000)
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    exe = build()
    out = subprocess.run([str(exe), str(args.items), str(args.producers), str(args.repeats)], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    locked = {r["producers"]: r["ns_per_item"] for r in rows if r["queue"] == "mutex_condvar"}
    print("| queue | producers -> 1 | ns/item | vs mutex+condvar |")
    print("|---|---|---|---|")
    for r in rows:
        base = locked[r["producers"]]
        print(f"| {r['queue']} | {r['producers']} | {r['ns_per_item']:.1f} | {base / r['ns_per_item']:.2f}x |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
