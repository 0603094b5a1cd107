"""An app for tests/integration/test_out_of_memory.py: /arm makes the next requests the engine
starts fail with std::bad_alloc (the bench build's _core._fail_allocations)."""

from fastapi import FastAPI

from fasterapi import _core

app = FastAPI()


@app.get("/arm/{n}")
async def arm(n: int) -> dict[str, int]:
    return {"previous": _core._fail_allocations(n)}  # type: ignore[attr-defined]


@app.get("/hello")
async def hello(name: str = "world") -> dict[str, str]:
    return {"hello": name}
