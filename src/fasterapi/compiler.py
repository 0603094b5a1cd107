"""The route compiler: a real FastAPI app's routes, compiled at startup into native plans.

A route is compiled only where the engine's answer is provably FastAPI's own. The compiler reads
what FastAPI itself runs for the route: the closure of the request handler that
`APIRoute.get_route_handler()` made (its dependant, body field, status code, response class and
response field), not the route's attributes, which libraries may rewrite after registration. It
refuses, with a reason, anything it cannot reproduce exactly; such routes, and every request a
compiled plan cannot decide (a value that does not convert, a body that does not validate, a
missing one), go through the app's own ASGI path, so 422s, 404s and 405s are FastAPI's.

What a compiled route does, per request, in the engine:
- path, query, header and cookie scalars (int, float, str, bool, optionally None) converted in
  C++ under FastAPI's lookup rules (aliases, `convert_underscores`, last query value wins);
- a single pydantic-model JSON body validated from the raw bytes by pydantic-core (only for models
  whose fields validate alike from JSON and from Python: plain scalars, lists, dicts, nested such
  models, no validators);
- one vectorcall of the endpoint (`async def` on the loop; `def` through
  `starlette.concurrency.run_in_threadpool`, as FastAPI runs it);
- the result written as JSON by C++ (`jsonable_encoder` for what the writer does not know), or,
  with a response_model, FastAPI's own `serialize_response`;
- an exception goes to the app's exception handlers, as Starlette's ExceptionMiddleware and
  ServerErrorMiddleware would call them.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import enum
import functools
import inspect
import logging
import types
import typing
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import annotated_types
import anyio.lowlevel
from anyio._core._eventloop import threadlocals
from fastapi import FastAPI, params
from fastapi import routing as fastapi_routing
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import (
    Dependant,
    _get_cache_key,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
)
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

with warnings.catch_warnings():  # (FastAPI deprecates both: pydantic's JSON is faster)
    warnings.simplefilter("ignore")
    from fastapi.responses import ORJSONResponse, UJSONResponse
from fastapi.exceptions import EndpointContext, ResponseValidationError
from fastapi.routing import (
    APIRoute,
    _extract_endpoint_context,
    get_request_handler,
    request_response,
    serialize_response,
)
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel
from starlette._exception_handler import _lookup_exception_handler
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute, compile_path

from ._asgi_server import ERRORS, ScopeMaker, Wire, internal_error, to_wire

ParamSource = typing.Literal["path", "query", "header", "cookie"]
ParamKind = typing.Literal["int", "float", "str", "bool"]
_SCALARS: dict[Any, ParamKind] = {int: "int", float: "float", str: "str", bool: "bool"}
# A compiled route validates its JSON body whole: it buffers up to this much; a larger or chunked
# body goes, streamed, through the app's ASGI path (the engine diverts it: bridge body_limit).
COMPILED_BODY_BUFFER = 1 << 20
_NONE = type(None)
_RENDER_CLASSES: tuple[type[Any], ...] = (JSONResponse, ORJSONResponse, UJSONResponse)


@dataclasses.dataclass(frozen=True)
class CompileOptions:
    """How an engine compiles an app's routes."""

    root_path: str = ""
    wire: type[Wire] = Wire
    body_buffer: int = COMPILED_BODY_BUFFER  # a compiled route's body is buffered up to this
    # Plain `def` endpoints and dependencies called inline on the loop thread instead of FastAPI's
    # thread pool (`fasterapi run --def-inline`, or `@fasterapi.inline` on one function): much
    # faster, but a `def` that blocks stalls every request of the worker.
    def_inline: bool = False

    # Where the engine's loop is, for anyio (a LoopRef; None: no native pool). Plain `def` endpoints
    # of compiled routes then run on the engine's native pool (a lock-free ring, no asyncio future
    # per call), with the loop's token set in the worker thread, so anyio.from_thread works in them
    # as in the threads of FastAPI's run_in_threadpool.
    loop_ref: LoopRef | None = None

    def inline(self, call: Callable[..., Any]) -> bool:
        return self.def_inline or bool(getattr(call, "__fasterapi_inline__", False))


def inline(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a plain `def` endpoint or dependency as safe to call on the loop thread (it never
    blocks): compiled routes then call it inline rather than through the thread pool."""
    func.__fasterapi_inline__ = True  # type: ignore[attr-defined]
    return func


class NotCompilable(Exception):
    """The route stays on the ASGI path; the message says why."""


# ---- the plan: what the engine runs for a compiled route (parsed by name in bridge/module.cpp) ----


@dataclasses.dataclass(frozen=True, slots=True)
class PlanParam:
    """A scalar parameter the engine converts from the request as pydantic would."""

    name: str  # the keyword the plan's call takes
    source: ParamSource
    kind: ParamKind
    default: Any  # _core.REQUIRED: required
    key: str | None = None  # as the request spells it (alias; a header's name); None: the name


@dataclasses.dataclass(frozen=True, slots=True)
class PlanBody:
    """The JSON body, validated by the model's pydantic-core validator."""

    name: str
    validate_json: Callable[[bytes], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class PlanText:
    """A str result is the body, written with this Content-Type line; anything else goes to finish,
    which returns the response FastAPI would make of it (or raises)."""

    content_type_line: bytes
    finish: Callable[[Any], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """A compiled route: call(**params, body, request_data) -> its result, written by the engine.
    The engine validates it when the route is added (Engine.add_route)."""

    call: Callable[..., Any]
    is_async: bool
    status: int = 200
    params: tuple[PlanParam, ...] = ()
    body: PlanBody | None = None
    guard: Any = None  # (dependency_overrides provider, route, route.app): the plan holds while unchanged
    json_bytes: bool = False  # the call returns the JSON body as bytes (a response_model)
    wants_request: bool = False  # the call takes request_data= (the RequestData), last
    text: PlanText | None = None


@dataclasses.dataclass(frozen=True)
class RouteReport:
    """One route as `fasterapi routes` shows it."""

    path: str
    methods: tuple[str, ...]
    name: str
    compiled: bool
    reason: str  # "" when compiled
    writer: str = ""  # a compiled route: how its responses are made and written


# ---- what FastAPI runs for a route ------------------------------------------------------------


def _closure(fn: Any) -> dict[str, Any]:
    code = getattr(fn, "__code__", None)
    cells = getattr(fn, "__closure__", None) or ()
    if code is None:
        return {}
    return {name: cell.cell_contents for name, cell in zip(code.co_freevars, cells, strict=False)}


@functools.cache
def _reference_codes() -> tuple[types.CodeType, types.CodeType]:
    """The code objects of FastAPI's own route app and request handler, to recognise them."""

    async def endpoint() -> None:  # pragma: no cover - never called
        return None

    outer = request_response(get_request_handler(Dependant(call=endpoint)))
    inner = _closure(outer)["f"]
    return outer.__code__, inner.__code__


def handler_inputs(route: Any) -> dict[str, Any]:
    """The values FastAPI's request handler for `route` closes over, or NotCompilable when
    `route.app` is not FastAPI's own handler (a custom route class or a replaced app)."""
    outer_code, inner_code = _reference_codes()
    app = route.app
    if getattr(app, "__code__", None) is not outer_code:
        raise NotCompilable("route.app is not FastAPI's request handler (custom route class or replaced app)")
    handler = _closure(app).get("f")
    if getattr(handler, "__code__", None) is not inner_code:
        raise NotCompilable("custom get_route_handler")
    return _closure(handler)


# ---- parameters -------------------------------------------------------------------------------


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not _NONE]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _request_key(field: Any) -> str:
    """The name FastAPI looks the parameter up by (`_get_param_aliases`, the simple case only)."""
    info = field.field_info
    validation_alias = info.validation_alias
    if validation_alias is not None and not isinstance(validation_alias, str):
        raise NotCompilable(f"parameter {field.name!r} has alias choices or paths")
    config = field.config or {}
    if config.get("validate_by_alias") is False or config.get("validate_by_name") or config.get("populate_by_name"):
        raise NotCompilable(f"parameter {field.name!r} is validated by name")
    alias = validation_alias or field.alias or field.name
    if isinstance(info, params.Header) and info.convert_underscores and alias == field.name:
        alias = alias.replace("_", "-")
    return str(alias)


def param_plan(field: Any, source: ParamSource, core: Any) -> PlanParam:
    """A scalar parameter the engine converts as pydantic would, else NotCompilable."""
    info = field.field_info
    annotation, _optional = _strip_optional(info.annotation)
    kind = _SCALARS.get(annotation)
    if kind is None:
        raise NotCompilable(f"parameter {field.name!r}: type {info.annotation!r} needs pydantic")
    if info.metadata:
        raise NotCompilable(f"parameter {field.name!r} has constraints")
    if info.default_factory is not None or info.validate_default:
        raise NotCompilable(f"parameter {field.name!r} has a default factory or validated default")
    if info.is_required():
        default = core.REQUIRED
    elif isinstance(info.default, (str, int, float, bool, _NONE)):
        default = info.default
    else:
        raise NotCompilable(f"parameter {field.name!r} has a mutable default")
    return PlanParam(field.name, source, kind, default, _request_key(field))


def _path_convertors_plain(path: str) -> None:
    """Starlette's `{x:int}` convertors hand the endpoint converted values; only plain and `path`
    captures reach it as strings, as the engine passes them."""
    _regex, _format, convertors = compile_path(path)
    for name, convertor in convertors.items():
        if type(convertor).__name__ not in ("StringConvertor", "PathConvertor"):
            raise NotCompilable(f"path parameter {name!r} uses a {type(convertor).__name__}")


# ---- bodies -----------------------------------------------------------------------------------


def _json_safe_type(annotation: Any, seen: set[type]) -> bool:
    """True when pydantic validates this type alike from JSON bytes and from the parsed Python value
    (FastAPI validates `json.loads(body)`; the engine validates the bytes)."""
    if annotation in (str, int, float, bool, _NONE, Any):
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return all(_json_safe_type(a, seen) for a in args)
    if origin is list:
        return len(args) == 1 and _json_safe_type(args[0], seen)
    if origin is dict:
        return len(args) == 2 and args[0] is str and _json_safe_type(args[1], seen)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _json_safe_model(annotation, seen)
    return False


def _json_safe_model(model: type[BaseModel], seen: set[type] | None = None) -> bool:
    seen = set() if seen is None else seen
    if model in seen:
        return True
    seen.add(model)
    decorators = model.__pydantic_decorators__
    if (
        decorators.validators
        or decorators.field_validators
        or decorators.root_validators
        or decorators.model_validators
    ):
        return False
    if model.model_config.get("strict") or model.__pydantic_generic_metadata__.get("origin") is not None:
        return False
    for field in model.model_fields.values():
        if field.metadata or not _json_safe_type(field.annotation, seen):
            return False
    return True


def body_plan(inputs: dict[str, Any]) -> tuple[str, Callable[[bytes], Any]] | None:
    body_field = inputs.get("body_field")
    dependant: Dependant = inputs["dependant"]
    if body_field is None:
        return None
    if inputs.get("is_body_form") or inputs.get("embed_body_fields") or len(dependant.body_params) != 1:
        raise NotCompilable("the body is a form, embedded or has several fields")
    info = body_field.field_info
    model = info.annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)) or info.metadata:
        raise NotCompilable("the body is not a plain pydantic model")
    if not info.is_required():
        raise NotCompilable("the body is optional")
    if not _json_safe_model(model):
        raise NotCompilable(f"body model {model.__name__} has types or validators that differ from JSON")
    if not inputs.get("actual_strict_content_type", True):
        raise NotCompilable("strict_content_type=False")
    return (dependant.body_params[0].name, model.model_validate_json)


# ---- the call ---------------------------------------------------------------------------------

_SPECIAL_PARAMS = (
    "request_param_name",
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)


def _no_special_params(dependant: Dependant) -> None:
    for special in _SPECIAL_PARAMS:
        if getattr(dependant, special):
            raise NotCompilable(f"a {special.removesuffix('_param_name').replace('_', ' ')} parameter")


def _plain_endpoint(inputs: dict[str, Any]) -> tuple[Callable[..., Any], bool]:
    dependant: Dependant = inputs["dependant"]
    _no_special_params(dependant)
    if inputs.get("is_sse_stream") or inputs.get("is_json_stream") or inputs.get("stream_item_field") is not None:
        raise NotCompilable("a streaming endpoint")
    call = dependant.call
    if call is None or inspect.isasyncgenfunction(call) or inspect.isgeneratorfunction(call):
        raise NotCompilable("a generator endpoint")
    return call, bool(inputs["is_coroutine"])


class LoopRef:
    """The anyio token of the loop the engine runs on (updated by an in-memory caller whose loop
    changes: a TestClient used without `with` runs each request on a new one)."""

    __slots__ = ("token",)

    def __init__(self) -> None:
        self.token: Any = None

    def update(self) -> None:
        self.token = anyio.lowlevel.current_token()


class _PoolCall:
    """A `def` endpoint as the engine's native pool calls it: in a worker thread that anyio knows
    the loop of (`anyio.from_thread.run` works, as in the threads of FastAPI's run_in_threadpool)."""

    __slots__ = ("endpoint", "loop")

    def __init__(self, endpoint: Callable[..., Any], loop: LoopRef) -> None:
        self.endpoint = endpoint
        self.loop = loop

    def __call__(self, **values: Any) -> Any:
        threadlocals.current_token = self.loop.token
        # A context of its own per call, as run_in_threadpool gives each: a ContextVar one request
        # sets in the worker thread never reaches the next.
        return contextvars.Context().run(self.endpoint, **values)


def _sync_call(endpoint: Callable[..., Any], options: CompileOptions) -> Callable[..., Any]:
    """A `def` endpoint as an awaitable call: as FastAPI runs it, on the thread pool
    (anyio.from_thread works inside), or inline when opted in."""
    if options.inline(endpoint):

        async def inline_call(**values: Any) -> Any:
            return endpoint(**values)

        return inline_call

    async def call(**values: Any) -> Any:
        return await run_in_threadpool(endpoint, **values)

    return call


def _plain_response_class(inputs: dict[str, Any]) -> type[Any]:
    """The route's response class, when it is a complete (non-streaming) Starlette Response whose
    ASGI __call__ sends just its status, raw headers and body."""
    actual = inputs["actual_response_class"]
    if (
        not isinstance(actual, type)
        or not issubclass(actual, Response)
        or issubclass(actual, (StreamingResponse, FileResponse))
        or actual.__call__ is not Response.__call__
    ):
        raise NotCompilable(f"response_class {getattr(actual, '__name__', actual)!r} is not a plain Response")
    return actual


class _Dependencies:
    """A route's dependency tree, solved as FastAPI's solve_dependencies solves it: depth first, each
    dependency after its own dependencies, once per request per cache key (`use_cache=False`: every
    time), `async def` on the loop and `def` on the thread pool. Every parameter of the tree is
    converted by the engine before anything runs; anything it cannot decide sends the request to
    FastAPI's own path before any dependency ran, so nothing runs twice."""

    def __init__(self, core: Any, options: CompileOptions) -> None:
        self.core = core
        self.options = options
        self.params: list[PlanParam] = []  # the plan's parameters: p0, p1, ...
        # (slot, call, "async" | "pool" | "inline", arguments)
        self.steps: list[tuple[int, Callable[..., Any], str, tuple[tuple[str, bool, Any], ...]]] = []
        self.cache: dict[Any, int] = {}

    def arguments(self, dependant: Dependant) -> tuple[tuple[str, bool, Any], ...]:
        """(keyword, is_param, key): a plan parameter's name, or a solved dependency's slot."""
        _no_special_params(dependant)
        args: list[tuple[str, bool, Any]] = []
        for sub in dependant.dependencies:
            call = sub.call
            if call is None or _is_gen_callable(call) or _is_async_gen_callable(call):
                raise NotCompilable("a dependency with yield")
            if getattr(sub, "concurrency", None) is not None or sub.body_params:
                raise NotCompilable("a dependency with a concurrency limit or a body")
            key = _get_cache_key(dependant=sub, uses_scopes_cache={})
            if sub.use_cache and key in self.cache:
                slot = self.cache[key]
            else:
                sub_args = self.arguments(sub)
                slot = len(self.steps)
                mode = "async" if _is_coroutine(call) else "inline" if self.options.inline(call) else "pool"
                self.steps.append((slot, call, mode, sub_args))
                self.cache.setdefault(key, slot)
            if sub.name is not None:
                args.append((sub.name, False, slot))
        sources: tuple[tuple[ParamSource, Any], ...] = (
            ("path", dependant.path_params),
            ("query", dependant.query_params),
            ("header", dependant.header_params),
            ("cookie", dependant.cookie_params),
        )
        for source, fields in sources:
            for field in fields:
                plan = param_plan(field, source, self.core)
                name = f"p{len(self.params)}"
                self.params.append(dataclasses.replace(plan, name=name))
                args.append((field.name, True, name))
        return tuple(args)

    def runner(
        self,
        endpoint: Callable[..., Any],
        is_coroutine: bool,
        endpoint_args: tuple[tuple[str, bool, Any], ...],
        body_name: str | None,
    ) -> Callable[..., Any]:
        steps = tuple(self.steps)
        call_endpoint = endpoint if is_coroutine else _sync_call(endpoint, self.options)

        async def run(**given: Any) -> Any:
            solved: list[Any] = [None] * len(steps)
            for slot, call, mode, args in steps:
                kwargs = {name: given[key] if is_param else solved[key] for name, is_param, key in args}
                if mode == "async":
                    solved[slot] = await call(**kwargs)
                elif mode == "pool":
                    solved[slot] = await run_in_threadpool(call, **kwargs)
                else:
                    solved[slot] = call(**kwargs)
            kwargs = {name: given[key] if is_param else solved[key] for name, is_param, key in endpoint_args}
            if body_name is not None:
                kwargs[body_name] = given["body"]
            return await call_endpoint(**kwargs)

        return run


def _is_coroutine(call: Callable[..., Any]) -> bool:
    return bool(_is_coroutine_callable(call))


def _json_render(response_class: type[Any], args: dict[str, Any]) -> Callable[[Any], bytes] | None:
    """For JSONResponse, ORJSONResponse and UJSONResponse (exactly these classes; JSONResponse here
    with a response model, whose serialized content FastAPI renders without jsonable_encoder, so
    without dropping "_sa" keys as the engine's JSON writer does): the render of a response made
    as FastAPI makes it, when that response is just `content-type: application/json`, its
    content-length and the rendered bytes (as the engine writes a JSON body)."""
    if response_class not in _RENDER_CLASSES:
        return None
    try:
        with warnings.catch_warnings():  # (the class's deprecation warning: the app's own, not ours)
            warnings.simplefilter("ignore")
            probe = response_class(None, **args)
    except Exception:  # noqa: BLE001 -- (ujson or orjson not installed: FastAPI fails alike)
        return None
    if sorted(probe.raw_headers) != sorted([(b"content-length", b"4"), (b"content-type", b"application/json")]):
        return None
    return typing.cast(Callable[[Any], bytes], probe.render)


_PLAIN_LEAVES = (str, int, float, bool, _NONE)


def _plain_json(value: Any, depth: int) -> bool:
    """True when jsonable_encoder(value) is an equal value of the same types: dicts, lists, str,
    int, float, bool and None of exactly these types, no str key starting with "_sa" (jsonable_
    encoder drops those: sqlalchemy_safe)."""
    kind = type(value)
    if kind in _PLAIN_LEAVES:
        return True
    if depth > 32:
        return False
    if kind is list:
        return all(_plain_json(v, depth + 1) for v in value)
    if kind is dict:
        for key, v in value.items():
            if type(key) not in _PLAIN_LEAVES or (type(key) is str and key.startswith("_sa")):
                return False
            if not _plain_json(v, depth + 1):
                return False
        return True
    return False


def _serializer(field: Any, dump_json: bool, context: dict[str, Any], options: dict[str, Any]) -> Callable[[Any], Any]:
    """FastAPI 0.165's serialize_response(field=field, is_coroutine=True, ...) as a plain function
    (the same calls, without a coroutine per response): the response model validates the result
    (ResponseValidationError on errors), then serializes it (pydantic-core's JSON bytes with the
    default response class, else its JSON-mode Python value)."""
    serializer = field.serialize_json if dump_json else field.serialize

    def serialize(raw: Any) -> Any:
        value, errors = field.validate(raw, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=raw, endpoint_ctx=context or EndpointContext())  # type: ignore[arg-type]
        return serializer(value, **options)

    return serialize


def _with_response(
    run: Callable[..., Any], is_coroutine: bool, inputs: dict[str, Any], context: dict[str, Any], wire: type[Wire]
) -> tuple[Callable[..., Any], bool, str]:
    """The endpoint, then what FastAPI's request handler does with its result: serialize_response
    (response_model validation, pydantic's to_json or jsonable_encoder), then the response class.
    Returns (call, json_bytes, writer): with a response_model and the default class the call returns
    the JSON bytes (written as application/json by the engine), with JSONResponse/ORJSONResponse/
    UJSONResponse the class's own rendered bytes; otherwise the complete response."""
    field = inputs["response_field"]
    response_class = _plain_response_class(inputs)
    dump_json = field is not None and isinstance(inputs["response_class"], DefaultPlaceholder)
    status = inputs["status_code"]
    args: dict[str, Any] = {"background": None}
    if status:
        args["status_code"] = status
    options = {
        "include": inputs["response_model_include"],
        "exclude": inputs["response_model_exclude"],
        "by_alias": inputs["response_model_by_alias"],
        "exclude_unset": inputs["response_model_exclude_unset"],
        "exclude_defaults": inputs["response_model_exclude_defaults"],
        "exclude_none": inputs["response_model_exclude_none"],
    }
    render = None if dump_json else _json_render(response_class, args)
    serialize = _serializer(field, dump_json, context, options) if field is not None and is_coroutine else None

    async def call(**values: Any) -> Any:
        raw = await run(**values)
        if isinstance(raw, Response):
            return raw
        if render is not None and field is None and _plain_json(raw, 0):
            return render(raw)  # (jsonable_encoder(raw) == raw: FastAPI renders the same value)
        if serialize is not None:
            content = serialize(raw)
        else:
            content = await serialize_response(
                field=field,
                response_content=raw,
                is_coroutine=is_coroutine,
                endpoint_ctx=context,  # type: ignore[arg-type]
                dump_json=dump_json,
                **options,
            )
        if dump_json:
            return content
        if render is not None:
            return render(content)
        response = response_class(content, **args)
        raw = response.raw_headers if wire.compiled_edit is None else wire.compiled_edit(response.raw_headers)
        return wire(response.status_code, raw, response.body)

    if dump_json:
        return call, True, "model_json"
    if render is not None:
        return call, True, "render"
    return call, False, "python"


def _text_plan(inputs: dict[str, Any], wire: type[Wire]) -> tuple[bytes, Callable[[Any], Any]] | None:
    """For a route whose response class is exactly PlainTextResponse or HTMLResponse (no
    response_model): (its Content-Type line, finish). FastAPI makes `response_class(
    jsonable_encoder(result), status_code=...)`: for a str result that is the UTF-8 bytes with
    content-type and content-length headers only, which the engine writes itself; finish(result)
    does what FastAPI does for any other result (a returned Response is sent as it is)."""
    response_class = inputs["actual_response_class"]
    if response_class not in (PlainTextResponse, HTMLResponse) or response_class.charset != "utf-8":
        return None
    status = inputs["status_code"]
    args: dict[str, Any] = {"background": None}
    if status:
        args["status_code"] = status
    probe = response_class("\u00e9", **args)
    names = sorted(name for name, _ in probe.raw_headers)
    if names != [b"content-length", b"content-type"] or probe.body != "\u00e9".encode():
        return None
    content_type = dict(probe.raw_headers)[b"content-type"]

    def finish(raw: Any) -> Any:
        if isinstance(raw, Response):
            return raw
        response = response_class(jsonable_encoder(raw), **args)
        edit = wire.compiled_edit
        return wire(
            response.status_code, response.raw_headers if edit is None else edit(response.raw_headers), response.body
        )

    return b"content-type: " + content_type + b"\r\n", finish


def _endpoint_context(inputs: dict[str, Any], method: str, root_path: str) -> dict[str, Any]:
    dependant: Dependant = inputs["dependant"]
    context = dict(_extract_endpoint_context(dependant.call))
    if dependant.path:
        context["path"] = f"{method} {root_path.rstrip('/')}{dependant.path}"
    return context


# ---- the app ----------------------------------------------------------------------------------


def app_reason(app: Any) -> str | None:
    """Why none of the app's routes may be compiled, or None."""
    if not isinstance(app, FastAPI):
        return "not a FastAPI app"
    cls = type(app)
    if cls.__call__ is not FastAPI.__call__ or cls.build_middleware_stack is not FastAPI.build_middleware_stack:
        return "the app overrides __call__ or build_middleware_stack"
    if getattr(app.build_middleware_stack, "__func__", None) is not FastAPI.build_middleware_stack:
        # set on the instance (OpenTelemetry's FastAPIInstrumentor.instrument_app wraps the stack)
        return "build_middleware_stack is replaced on the app"
    others = [m for m in app.user_middleware if m.cls not in _PASS_THROUGH]  # type: ignore[comparison-overlap]
    if others:
        names = ", ".join(getattr(m.cls, "__name__", repr(m.cls)) for m in others)
        return f"middleware ({names}) sees every request"
    if app.debug:
        return "debug=True (Starlette's debug error pages)"
    if getattr(app, "max_body_size", None) is not None:
        return "max_body_size is set (FastAPI's body limit middleware)"
    telemetry = getattr(app, "_native_telemetry", None)
    if telemetry is not None and telemetry.enabled():
        return "FastAPI telemetry is enabled (its spans need the ASGI path)"
    return None


# ---- middleware that lets some requests through ---------------------------------------------------


def _vary_origin(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """CORSMiddleware's edit of a response to a request without an Origin header (its `send`: the
    Vary headers joined into one, then Origin)."""
    headers = MutableHeaders(raw=list(raw))
    headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
    return headers.raw


# Middleware classes (exactly these, not subclasses) whose effect on a request that lacks certain
# headers is a fixed edit of the response's headers: {class: (those request headers, the edit)}.
# A request carrying one of the headers goes through the app (and the middleware); the others may be
# served by compiled routes, their responses edited as the middleware would.
_PASS_THROUGH: dict[type, tuple[tuple[str, ...], Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]]]] = {
    CORSMiddleware: (("origin",), _vary_origin),
}


@dataclasses.dataclass(frozen=True)
class MiddlewareBypass:
    """What the app's pass-through middleware ask of compiled routes: the request headers that send
    a request to the app, and the edit of every response made inside the middleware (by the route or
    by an exception handler; not ServerErrorMiddleware's 500, which is outside them)."""

    request_headers: tuple[str, ...]
    edits: tuple[Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]], ...]  # innermost first

    @classmethod
    def of(cls, app: Any) -> MiddlewareBypass | None:
        middleware = list(getattr(app, "user_middleware", ()))
        if not middleware:
            return None
        names: list[str] = []
        edits = []
        for m in reversed(middleware):  # user_middleware[0] is the outermost
            headers, edit = _PASS_THROUGH[m.cls]
            names += [h for h in headers if h not in names]
            edits.append(edit)
        return cls(tuple(names), tuple(edits))

    def edit(self, raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        for edit in self.edits:
            raw = edit(raw)
        return raw

    def apply(self, engine: Any, wire: type[Wire]) -> None:
        engine.python_routing = True
        engine.python_routing_headers = self.request_headers
        engine.compiled_headers = self.edit([])  # the JSON responses the engine writes itself
        wire.compiled_edit = self.edit


def _overlaps(earlier: Any, path: str, methods: set[str]) -> bool:
    """Could `earlier` fully match some request (method, path) that `path`'s template and `methods`
    match? Only a full match shadows a later route (a method mismatch is a partial match, and the
    router goes on to the first full one). Conservative: True unless the methods are disjoint or
    the two templates differ in a literal segment at the same position."""
    earlier_methods = getattr(earlier, "methods", None)
    if earlier_methods and methods and not (set(earlier_methods) & methods):
        return False
    if isinstance(earlier, Mount):
        prefix = earlier.path.rstrip("/")
        return (
            path == prefix or path.startswith(prefix + "/") or "{" in prefix or _segments_may_meet(prefix, path, True)
        )
    other = getattr(earlier, "path", None)
    if other is None:
        return True
    return _segments_may_meet(other, path, False)


def _segments_may_meet(a: str, b: str, prefix: bool) -> bool:
    sa, sb = a.strip("/").split("/"), b.strip("/").split("/")
    if any(":path}" in s for s in sa + sb):
        return True
    if not prefix and len(sa) != len(sb):
        return False
    for x, y in zip(sa, sb, strict=False):
        if "{" in x or "{" in y:
            continue
        if x != y:
            return False
    return True


class AppErrors:
    """engine.error_handler for compiled routes: what Starlette's ExceptionMiddleware (the app's
    handlers by status code, then by exception class) and ServerErrorMiddleware (the 500 handler,
    else a plain "Internal Server Error") would answer."""

    def __init__(self, app: FastAPI, scope_maker: ScopeMaker, wire: type[Wire]) -> None:
        self.app = app
        self.scope_maker = scope_maker
        self.wire = wire

    def __call__(self, req: Any, exc: BaseException) -> Any:
        return self.answer(req, exc)

    async def answer(self, req: Any, exc: BaseException) -> Any:
        handlers = {k: v for k, v in self.app.exception_handlers.items() if k not in (500, Exception)}
        handler: Any = None
        if isinstance(exc, HTTPException):
            handler = handlers.get(exc.status_code)
        if handler is None and isinstance(exc, Exception):
            handler = _lookup_exception_handler(handlers, exc)  # type: ignore[arg-type]
        if handler is not None:
            try:
                return await self.run_handler(handler, req, exc)
            except Exception as raised:  # noqa: BLE001 -- as ServerErrorMiddleware: a server error now
                exc, handler = raised, None
        if handler is None:
            handler = self.app.exception_handlers.get(500) or self.app.exception_handlers.get(Exception)
            observer = ERRORS.get()
            if observer is not None:  # a test client: the exception goes to the test, not the log
                observer.errors.append(exc)
            else:
                logging.getLogger("fasterapi.error").error("Exception in ASGI application", exc_info=exc)
            if handler is None:
                return internal_error(self.wire)
        return await self.run_handler(handler, req, exc)

    async def run_handler(self, handler: Any, req: Any, exc: BaseException) -> Any:
        scope = self.scope_maker(req)
        request = Request(scope, _no_body)
        if inspect.iscoroutinefunction(handler):
            response = await handler(request, exc)
        else:
            response = await run_in_threadpool(handler, request, exc)
        return await to_wire(response, scope, self.wire)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def compile_app(
    app: Any, engine: Any, core: Any, fallback: Any, options: CompileOptions | None = None
) -> list[RouteReport]:
    """Add every compilable route of `app` to `engine` (fallback: the app's ASGI handler for the
    requests a plan cannot decide); returns a report per route."""
    options = options or CompileOptions()
    reports: list[RouteReport] = []
    reason = app_reason(app)
    if reason is None:
        bypass = MiddlewareBypass.of(app)
        if bypass is not None:
            if options.wire is Wire:  # (the edit is set on the engine's own Wire class)
                options = dataclasses.replace(options, wire=Wire.for_engine(ScopeMaker(options.root_path)))
            bypass.apply(engine, options.wire)
    routes: Sequence[BaseRoute] = getattr(getattr(app, "router", None), "routes", ())
    earlier: list[Any] = []
    for route in match_order(routes):
        methods = tuple(sorted(getattr(route, "methods", None) or ()))
        path = getattr(route, "path", "")
        name = getattr(route, "name", "") or ""
        why = reason
        writer = ""
        if why is None:
            try:
                writer = _compile_route(route, earlier, engine, core, fallback, options)
            except NotCompilable as exc:
                why = str(exc)
            else:
                why = None if writer in _WRITERS.values() else writer
        report = RouteReport(path, methods, name, why is None, why or "", writer if why is None else "")
        _log.debug(
            "route %s %s: %s", ",".join(methods) or "-", path, f"compiled ({writer})" if why is None else f"ASGI: {why}"
        )
        reports.append(report)
        earlier.append(route)
    return reports


class _Opaque:
    """A route of an included router whose paths the compiler does not know (a Host, a frontend
    route group): every later route may be shadowed by it."""

    path = None

    def __init__(self, route: Any) -> None:
        self.route = route

    def __repr__(self) -> str:
        return type(self.route).__name__


def match_order(routes: Sequence[BaseRoute]) -> Iterator[Any]:
    """The app's routes in the order FastAPI's router tries them, routers included with
    `include_router` opened in place. FastAPI keeps an included router as one route that matches
    its own routes in order, each under the include's prefix, dependencies and response class (an
    effective route context, with a request handler of its own); first FULL match wins, as in the
    flat list this yields. APIRoute-like contexts are yielded whole (compilable); other routes of
    an included router as the prefixed Starlette route FastAPI matches, else as `_Opaque`."""
    included = getattr(fastapi_routing, "_IncludedRouter", None)
    for route in routes:
        if included is not None and isinstance(route, included):
            yield from _included_order(route, included)
        else:
            yield route


def _included_order(router: Any, included: type) -> Iterator[Any]:
    for candidate in router.effective_candidates():
        if isinstance(candidate, included):
            yield from _included_order(candidate, included)
        elif isinstance(candidate.original_route, APIRoute):
            yield candidate
        elif candidate.starlette_route is not None:
            yield candidate.starlette_route
        else:
            yield _Opaque(candidate.original_route)


def _is_api_route(route: Any) -> bool:
    """An APIRoute, or an included one (its effective context: the prefixed path and the handler
    FastAPI built for the include)."""
    return isinstance(route, APIRoute) or isinstance(getattr(route, "original_route", None), APIRoute)


# How a compiled route's responses are made (RouteReport.writer, `fasterapi routes`).
_WRITERS = {
    "json": "engine JSON writer",
    "text": "engine text writer (str result)",
    "model_json": "FastAPI's serialize_response (pydantic-core JSON bytes), written by the engine",
    "render": "the class's render() of serialize_response's content (a plain-JSON result: of itself), "
    "bytes written by the engine",
    "python": "response class built in Python (FastAPI's serialize_response)",
}
_log = logging.getLogger("fasterapi.routes")


def _compile_route(
    route: Any, earlier: list[Any], engine: Any, core: Any, fallback: Any, options: CompileOptions
) -> str:
    """Compiles the route; returns how its responses are written (a _WRITERS value), else the
    reason it is not compiled."""
    if isinstance(route, WebSocketRoute):
        return "a WebSocket route"
    if isinstance(route, _Opaque):
        return f"a {route!r} route (served by the app)"
    if not _is_api_route(route):
        kinds = {Mount: "a mount", Route: "a Starlette route"}
        kind = next((v for k, v in kinds.items() if isinstance(route, k)), type(route).__name__)
        return f"{kind} (served by the app)"
    for other in earlier:
        if _overlaps(other, route.path, set(route.methods or ())):
            return f"an earlier route ({getattr(other, 'path', other)!r}) may match the same paths"
    if getattr(route, "max_body_size", None) is not None:
        raise NotCompilable("max_body_size is set (FastAPI's body limit middleware)")
    _path_convertors_plain(route.path)
    inputs = handler_inputs(route)
    status = inputs["status_code"]
    if status is not None and not is_body_allowed_for_status_code(status):
        raise NotCompilable(f"status code {status} has no body")
    endpoint, is_coroutine = _plain_endpoint(inputs)
    methods = sorted(route.methods or ())
    dependant: Dependant = inputs["dependant"]
    body = body_plan(inputs)
    provider = None
    if dependant.dependencies:
        tree = _Dependencies(core, options)
        endpoint_args = tree.arguments(dependant)
        plans = tree.params
        if body is not None:
            body = ("body", body[1])
        run = tree.runner(endpoint, is_coroutine, endpoint_args, dependant.body_params[0].name if body else None)
        # While app.dependency_overrides is not empty the engine sends the route's requests to
        # FastAPI's own path, which resolves the overrides.
        provider = inputs["dependency_overrides_provider"]
    else:
        plans = [param_plan(f, "path", core) for f in dependant.path_params]
        plans += [param_plan(f, "query", core) for f in dependant.query_params]
        plans += [param_plan(f, "header", core) for f in dependant.header_params]
        plans += [param_plan(f, "cookie", core) for f in dependant.cookie_params]
        run = endpoint if is_coroutine else _sync_call(endpoint, options)
    # (an explicit response_class=JSONResponse makes the same response as the default one)
    default_json = inputs["actual_response_class"] is JSONResponse
    text = _text_plan(inputs, options.wire) if inputs["response_field"] is None and not default_json else None
    if text is not None:
        # PlainTextResponse/HTMLResponse of a str: the engine writes it; other results go to
        # text[1], which makes FastAPI's response of them.
        call, json_bytes, writer = run, False, "text"
        if not is_coroutine and not dependant.dependencies and options.inline(endpoint):
            call = endpoint
        elif not is_coroutine and not dependant.dependencies and options.loop_ref is not None:
            call = _PoolCall(endpoint, options.loop_ref)  # on the engine's native pool
    elif inputs["response_field"] is None and default_json:
        # FastAPI's jsonable_encoder + JSONResponse: the engine's JSON writer (json_default for
        # the types it does not know) writes the same bytes.
        call, json_bytes, writer = run, False, "json"
        if not is_coroutine and not dependant.dependencies and options.inline(endpoint):
            call = endpoint  # called synchronously by the engine: no coroutine at all
        elif not is_coroutine and not dependant.dependencies and options.loop_ref is not None:
            call = _PoolCall(endpoint, options.loop_ref)  # on the engine's native pool
    else:
        if len(methods) != 1:
            raise NotCompilable("a response_model or response_class on a route with several methods")
        context = _endpoint_context(inputs, methods[0], options.root_path)
        # (an inline def validates its response inline too: serialize_response's is_coroutine)
        call, json_bytes, writer = _with_response(
            run, is_coroutine or options.inline(endpoint), inputs, context, options.wire
        )
    # The plan holds while the overrides are empty and route.app is the handler it was read from.
    guard = (provider, route, route.app)
    on_pool = isinstance(call, _PoolCall)
    is_async = not on_pool and (call is not endpoint or is_coroutine)
    plan = Plan(
        call,
        is_async,
        status or 200,
        tuple(plans),
        PlanBody(*body) if body else None,
        guard,
        json_bytes,
        False,
        PlanText(*text) if text else None,
    )
    engine.add_route(methods, route.path, fallback, plan, options.body_buffer, head=False)
    if on_pool:
        engine.set_blocking(engine.route_count - 1)
    return _WRITERS[writer]


def json_default(obj: Any) -> Any:
    """What the engine's JSON writer calls for types it does not know: FastAPI's encoder. A pydantic
    model whose JSON-mode dump has only keys the model declares, none of them starting with "_sa"
    (jsonable_encoder's `sqlalchemy_safe` drops those), is its `model_dump(mode="json",
    by_alias=True)`: exactly what jsonable_encoder returns for it, without its second walk."""
    if isinstance(obj, BaseModel) and _fixed_keys_model(type(obj)):
        return obj.__pydantic_serializer__.to_python(obj, mode="json", by_alias=True)  # (model_dump's)
    return jsonable_encoder(obj)


_FIXED_KEY_LEAVES = (str, int, float, bool, _NONE, datetime.datetime, datetime.date, datetime.time, uuid.UUID)


def _fixed_keys_type(annotation: Any, seen: set[type]) -> bool:
    """True when a value of this type dumps (mode="json") to no dict other than models'."""
    if annotation in _FIXED_KEY_LEAVES:
        return True
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return all(isinstance(m.value, (str, int, float, bool, _NONE)) for m in annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return all(_fixed_keys_type(a, seen) for a in args)
    if origin in (list, set, frozenset):
        return len(args) == 1 and _fixed_keys_type(args[0], seen)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _fixed_keys_check(annotation, seen)
    return False


@functools.cache
def _fixed_keys_model(model: type[BaseModel]) -> bool:
    return _fixed_keys_check(model, set())


def _fixed_keys_check(model: type[BaseModel], seen: set[type]) -> bool:
    if model in seen:
        return True
    seen.add(model)
    decorators = model.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers or model.model_config.get("extra") == "allow":
        return False
    if model.model_computed_fields or model.__pydantic_root_model__:
        return False
    for name, field in model.model_fields.items():
        key = field.serialization_alias or field.alias or name
        if key.startswith("_sa") or not _fixed_keys_type(field.annotation, seen):
            return False
        if any(not isinstance(m, annotated_types.BaseMetadata) for m in field.metadata):
            return False  # (SerializeAsAny, PlainSerializer, ...)
    return True
