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
from contextlib import AsyncExitStack, ExitStack
from typing import Any, Callable

from .models import Dependant

# Parameters that need something the engine does not pass natively. (`request: Request` and
# `HTTPConnection` get the request, built from the RequestData the engine then passes.)
_SPECIAL = (
    "websocket_param_name",
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
        self.stack: str | None = None  # "sync"/"async": an exit stack for dependencies with yield
        self.request = False  # a Request is made from the RequestData the engine passes
        self.context = False  # a Response / BackgroundTasks parameter: the route makes the response

    def arg(self, field: Any, source: str) -> str:
        name = f"p{len(self.params)}"
        entry = self.param_plan(field, source)
        self.params.append((name, *entry[1:]))
        return name

    def kwargs(self, dependant: Dependant, body: dict[str, str] | None = None) -> list[str]:
        """`name=value` for each argument of `dependant.call` (sub-dependencies solved first)."""
        if any(getattr(dependant, attr) for attr in _SPECIAL):
            raise NotCompilable("Request, Response, BackgroundTasks or SecurityScopes parameter")
        parts = []
        for name in (dependant.request_param_name, dependant.http_connection_param_name):
            if name is not None:
                self.request = True
                parts.append(f"{name}=request")
        if dependant.response_param_name is not None:
            self.context = True
            parts.append(f"{dependant.response_param_name}=context.get_response()")
        if dependant.background_tasks_param_name is not None:
            self.context = True
            parts.append(f"{dependant.background_tasks_param_name}=context.get_background()")
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
        for field in dependant.cookie_params:
            parts.append(f"{field.name}={self.arg(field, 'cookie')}")
        if body is not None:
            parts.extend(f"{name}={var}" for name, var in body.items())
        elif dependant.body_params:
            raise NotCompilable("a dependency reads the body")
        return parts

    def dependency(self, dependant: Dependant) -> str:
        """Emits the call of one dependency; returns the variable holding its value."""
        kind = dependant.call_kind
        key = dependant.cache_key if dependant.use_cache else None
        if key is not None and key in self.cache:
            return self.cache[key]
        args = self.kwargs(dependant)
        var = f"d{next(self.names)}"
        if kind in ("gen", "asyncgen"):
            # `yield`: entered on the request's exit stack, as the Python path does.
            self.env[f"{var}_call"] = dependant.cm_factory  # type: ignore[attr-defined]
            self.stack = "async" if kind == "asyncgen" or self.stack == "async" else "sync"
            enter = "await stack.enter_async_context" if kind == "asyncgen" else "stack.enter_context"
            call = f"{enter}({var}_call({', '.join(args)}))"
        else:
            self.env[f"{var}_call"] = dependant.call
            call = f"{var}_call({', '.join(args)})"
        if kind in ("async", "asyncgen"):
            self.is_async = True
        if kind == "async":
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
    swallowed: Callable[[], Exception] | None = None,
    make_request: Callable[[Any], Any] | None = None,
    make_response: tuple[Callable[[], Any], Callable[[Any, Any], Any]] | None = None,
) -> tuple[Callable[..., Any], bool, list[tuple[Any, ...]], str | None, bool, bool]:
    """(function, is_async, plan params, body argument name, wants the RequestData, returns a
    Response made by the route) for the route's fast plan.

    `make_response`: (new context, route._make_response) for Response / BackgroundTasks
    parameters: the function then returns the route's Response (status, headers and cookies set
    on the parameter, the background tasks) instead of `result(...)`.

    `result`, when given, is applied to the endpoint's return value (response_model
    serialization). Dependencies with `yield` are entered on an exit stack closed once the
    response is made, seeing the exception the endpoint raised; one that swallows it raises
    `swallowed()` instead (FastAPIError), as on the Python path. Raises NotCompilable when the
    route must keep the Python path.
    """
    c = _Compiler(param_plan)
    body = {body_name: "body"} if body_name is not None else None
    args = c.kwargs(dependant, body)
    c.env["endpoint"] = endpoint
    call = f"endpoint({', '.join(args)})"
    if endpoint_is_async:
        c.is_async = True
        call = "await " + call
    if c.context:
        if make_response is None:
            raise NotCompilable("a Response/BackgroundTasks parameter needs make_response")
        c.env["new_context"], c.env["make_response"] = make_response
        c.lines.insert(0, "context = new_context()")
        call = f"make_response({call}, context)"
    elif result is not None:
        c.env["result"] = result
        call = f"result({call})"
    params = [name for name, *_ in c.params] + (["body"] if body is not None else [])
    if c.request:
        if make_request is None:
            raise NotCompilable("a Request parameter needs make_request")
        params.append("request_data")  # passed last by the engine (the plan's wants_request)
        c.env["make_request"] = make_request
        c.lines.insert(0, "request = make_request(request_data)")
    head = f"{'async ' if c.is_async else ''}def fast({', '.join(params)}):"
    if c.stack is None:
        source = "\n    ".join([head, *c.lines, f"return {call}"])
    else:
        if swallowed is None:
            raise NotCompilable("dependencies with yield need the swallowed-exception error")
        c.env["ExitStack"] = AsyncExitStack if c.stack == "async" else ExitStack
        c.env["swallowed"] = swallowed
        exit_, close = ("await stack.__aexit__", "await stack.aclose()") if c.stack == "async" else (
            "stack.__exit__", "stack.close()")
        source = "\n    ".join([
            head,
            "stack = ExitStack()",
            "try:",
            *("    " + line for line in c.lines),
            f"    response = {call}",
            "except Exception as exc:",
            f"    if {exit_}(type(exc), exc, exc.__traceback__):",
            "        raise swallowed() from exc",
            "    raise",
            close,
            "return response",
        ])
    exec(compile(source, f"<fast plan of {getattr(endpoint, '__qualname__', endpoint)!s}>", "exec"), c.env)
    function = c.env["fast"]
    function.__fasterapi_source__ = source  # for tests and debugging
    return function, c.is_async, c.params, ("body" if body is not None else None), c.request, c.context
