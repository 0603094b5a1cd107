"""bench_app.py's two apps plus one handler-heavy route, for benchmarks/pypy.py (CPython against PyPy).

    fasterapi run jit_app:app_async        fasterapi run jit_app:app_sync

`GET /work` does ~0.7 ms of CPU (CPython 3.11 on this machine) of pure-Python CPU work in its handler:
a loop over ints, strings and a dict, the kind of code a JIT compiles, and returns a small dict.
Everything else is bench_app's routes, unchanged.
"""

from bench_app import app_async, app_sync

WORK_N = 1500


def crunch(n: int = WORK_N) -> dict:
    """Pure-Python work over ints, strings and a dict; deterministic, so the answer can be checked."""
    counts: dict[str, int] = {}
    total = 0
    words = []
    for i in range(n):
        s = str(i * 7919 % 10007)
        key = s[-1] + s[0]
        counts[key] = counts.get(key, 0) + 1
        total = (total * 31 + len(s) * i + ord(s[0])) % 1_000_003
        if i % 100 == 0:
            words.append(s.zfill(5)[::-1])
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return {"n": n, "total": total, "top": [k for k, _ in top], "words": "-".join(words)}


@app_async.get("/work")
async def work():
    return crunch()


@app_sync.get("/work")
def work_sync():
    return crunch()
