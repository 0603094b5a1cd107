"""Dependencies compiled into the native fast path.

A route with `Depends(...)` normally takes the Python path: `solve_dependencies` walks the
dependency tree per request (dict lookups, cache keys, a coroutine per level). When every
dependency is a plain function, class or callable (`def` or `async def`, no `yield`) whose own
parameters are path/query scalars the engine converts natively, the tree is known at
registration, so it is compiled once into one Python function:

    def fast(p0, p1, body):                  # p0, p1: converted by C++; body: validated JSON
        d0 = current_user(token=p0)          # each dependency called once (use_cache)
        return endpoint(item=body, user=d0, limit=p1)

The engine calls it with one vectorcall, as it calls a plain endpoint. Anything the compiled
function cannot decide (a parameter that does not convert, a body that does not validate) sends
the request to the Python path before any dependency runs, so errors are FastAPI's 422s. While
`app.dependency_overrides` is not empty the engine takes the Python path too (the plan carries
the app as its guard), so overrides set in tests behave exactly as before.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

from .models import Dependant

# Dependencies whose own parameters need something the engine does not pass natively.
_SPECIAL = (
    "request_param_name",
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)


class NotCompilable(Exception):
    """The route keeps the Python path (the reason is the message)."""


class _Compiler:
    def __init__(self, param_plan: Callable[[Any, str], tuple[Any, ...]]) -> None:
        self.param_plan = param_plan  # (field, source) -> plan param, or raises NotCompilable
        self.params: list[tuple[Any, ...]] = []  # plan params, in argument order
        self.lines: list[str] = []
        self.env: dict[str, Any] = {}
        self.cache: dict[Any, str] = {}  # (call, scopes) -> the variable holding its value
        self.names = itertools.count()
        self.is_async = False

    def arg(self, field: Any, source: str) -> str:
        name = f"p{len(self.params)}"
        entry = self.param_plan(field, source)
        self.params.append((name, *entry[1:]))
        return name

    def kwargs(self, dependant: Dependant, body: dict[str, str] | None = None) -> list[str]:
        """`name=value` for each argument of `dependant.call` (sub-dependencies solved first)."""
        if dependant.cookie_params:
            raise NotCompilable("cookie parameters")
        if any(getattr(dependant, attr) for attr in _SPECIAL):
            raise NotCompilable("Request, Response, BackgroundTasks or SecurityScopes parameter")
        parts = []
        for sub in dependant.dependencies:
            value = self.dependency(sub)
            if sub.name is not None:
                parts.append(f"{sub.name}={value}")
        for field in dependant.path_params:
            parts.append(f"{field.name}={self.arg(field, 'path')}")
        for field in dependant.query_params:
            parts.append(f"{field.name}={self.arg(field, 'query')}")
        for field in dependant.header_params:
            parts.append(f"{field.name}={self.arg(field, 'header')}")
        if body is not None:
            parts.extend(f"{name}={var}" for name, var in body.items())
        elif dependant.body_params:
            raise NotCompilable("a dependency reads the body")
        return parts

    def dependency(self, dependant: Dependant) -> str:
        """Emits the call of one dependency; returns the variable holding its value."""
        if dependant.call_kind not in ("sync", "async"):
            raise NotCompilable("a dependency with yield")
        key = dependant.cache_key if dependant.use_cache else None
        if key is not None and key in self.cache:
            return self.cache[key]
        args = self.kwargs(dependant)
        var = f"d{next(self.names)}"
        self.env[f"{var}_call"] = dependant.call
        call = f"{var}_call({', '.join(args)})"
        if dependant.call_kind == "async":
            self.is_async = True
            call = "await " + call
        self.lines.append(f"{var} = {call}")
        if key is not None:
            self.cache[key] = var
        return var


def compile_call(
    dependant: Dependant,
    endpoint: Callable[..., Any],
    endpoint_is_async: bool,
    body_name: str | None,
    param_plan: Callable[[Any, str], tuple[Any, ...]],
    result: Callable[[Any], Any] | None = None,
) -> tuple[Callable[..., Any], bool, list[tuple[Any, ...]], str | None]:
    """(function, is_async, plan params, body argument name) for the route's fast plan.

    `result`, when given, is applied to the endpoint's return value (response_model
    serialization). Raises NotCompilable when the route must keep the Python path.
    """
    c = _Compiler(param_plan)
    body = {body_name: "body"} if body_name is not None else None
    args = c.kwargs(dependant, body)
    c.env["endpoint"] = endpoint
    call = f"endpoint({', '.join(args)})"
    if endpoint_is_async:
        c.is_async = True
        call = "await " + call
    if result is not None:
        c.env["result"] = result
        c.lines.append(f"return result({call})")
    else:
        c.lines.append(f"return {call}")
    params = [name for name, *_ in c.params] + (["body"] if body is not None else [])
    head = f"{'async ' if c.is_async else ''}def fast({', '.join(params)}):"
    source = "\n    ".join([head, *c.lines])
    exec(compile(source, f"<fast plan of {getattr(endpoint, '__qualname__', endpoint)!s}>", "exec"), c.env)
    function = c.env["fast"]
    function.__fasterapi_source__ = source  # for tests and debugging
    return function, c.is_async, c.params, ("body" if body is not None else None)
