"""Routes, routers and the per-route request handler.

Registration does all the analysis: an `APIRoute` builds its `Dependant` (signature analysis), its
body plan, its response field and its compiled path regex once. `APIRoute.handle(req)` is what the
engine calls for a matched route; it only looks values up, validates, calls and serialises.

Python-side matching (`APIRouter.resolve`) serves what the native router does not: 404/405,
redirect_slashes, HEAD on GET routes, mounts, url_path_for, and apps with middleware.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import contextvars
import dataclasses
import functools
import inspect
import json
import logging
import os
import re
import types
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from enum import Enum, IntEnum
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from . import params
from ._compat import ModelField, is_model_class, regenerate_errors, strip_optional
from ._connection import root_path_of, scheme_of
from ._limits import FormLimits, get_body_size_limit, validate_form_limits, validate_max_body_size
from .batching import Batch, per_item_endpoint
from .concurrency import run_in_threadpool
from .datastructures import URL, Default, DefaultPlaceholder, URLPath
from .dependencies.compiled import NotCompilable, compile_call
from .dependencies.models import Dependant
from .dependencies.utils import iter_dependants
from .dependencies.utils import (
    BodyPlan,
    RequestContext,
    _should_embed_body_fields,
    get_body_field,
    get_dependant,
    get_flat_dependant,
    get_param_sub_dependant,
    get_typed_return_annotation,
    is_body_allowed_for_status_code,
    solve_dependencies,
    solve_params,
)
from .encoders import jsonable_encoder
from .exception_handlers import SYNC_DEFAULTS
from .exceptions import (
    FastAPIError,
    HTTPException,
    RequestValidationError,
    ResponseValidationError,
    StarletteHTTPException,
)
from . import _foreign
from .requests import Request
from .responses import JSONResponse, RedirectResponse, Response, StreamingResponse

logger = logging.getLogger("fasterapi")

# ------------------------------------------------------------------------------------ background

_pending_background: set[asyncio.Task[Any]] = set()


def _background_done(task: asyncio.Task[Any]) -> None:
    _pending_background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("Background task failed", exc_info=task.exception())


def _engine_streams(response: Response) -> bool:
    """A response the engine sends chunk by chunk (StreamingResponse) rather than collected."""
    return hasattr(type(response), "_engine_stream")


def _for_engine(response: Response, app: Any) -> Response:
    """A streaming response handed to the engine: an exception in its body is reported to the
    app's observer (the TestClient re-raises it) besides being logged."""
    response._error_observer = getattr(app, "_exception_observer", None)  # type: ignore[attr-defined]
    return response


def schedule_background(background: Callable[[], Awaitable[Any]]) -> None:
    """Run a response's background task(s) on the running loop, after the response is returned."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop (a synchronous caller): run it now
        asyncio.run(background())  # type: ignore[arg-type]
        return
    task = loop.create_task(background())  # type: ignore[arg-type]
    _pending_background.add(task)
    task.add_done_callback(_background_done)


def pending_background_tasks() -> set[asyncio.Task[Any]]:
    """Background tasks still running (the TestClient awaits them so tests see their effects)."""
    return set(_pending_background)


async def wait_background_tasks() -> None:
    while _pending_background:
        await asyncio.gather(*list(_pending_background), return_exceptions=True)


# ------------------------------------------------------------------------------------------ paths


class NoMatchFound(Exception):
    def __init__(self, name: str, path_params: dict[str, Any]) -> None:
        params_text = ", ".join(list(path_params.keys()))
        super().__init__(f'No route exists for name "{name}" and params "{params_text}".')


_CONVERTOR_REGEX = {
    "str": "[^/]+",
    "path": ".*",
    "int": "[0-9]+",
    "float": r"[0-9]+(?:\.[0-9]+)?",
    "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
_PARAM_RE = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")


def compile_path(path: str) -> tuple[re.Pattern[str], str, dict[str, str]]:
    """`/items/{id:int}` -> (regex, "/items/{id}", {"id": "int"}) with Starlette's convertor syntax."""
    regex = "^"
    path_format = ""
    convertors: dict[str, str] = {}
    idx = 0
    for match in _PARAM_RE.finditer(path):
        name, convertor = match.groups("str")
        convertor = convertor.lstrip(":")
        if convertor not in _CONVERTOR_REGEX:
            raise AssertionError(f"Unknown path convertor '{convertor}'")
        if name in convertors:
            raise ValueError(f"Duplicated param name {name} at path {path}")
        regex += re.escape(path[idx : match.start()]) + f"(?P<{name}>{_CONVERTOR_REGEX[convertor]})"
        path_format += path[idx : match.start()] + "{" + name + "}"
        convertors[name] = convertor
        idx = match.end()
    regex += re.escape(path[idx:]) + "$"
    path_format += path[idx:]
    return re.compile(regex), path_format, convertors


def _to_path_string(value: Any, convertor: str) -> str:
    if convertor == "int":
        return str(int(value))
    if convertor == "float":
        text = f"{float(value):0.20f}".rstrip("0").rstrip(".")
        return text
    if convertor == "uuid":
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    value = str(value)
    if convertor == "str" and "/" in value:
        raise AssertionError("May not contain path separators")
    return value


def generate_unique_id(route: APIRoute) -> str:
    operation_id = re.sub(r"\W", "_", f"{route.name}{route.path_format}")
    assert route.methods
    return f"{operation_id}_{sorted(route.methods)[0].lower()}"


def get_value_or_default(first: Any, *extra: Any) -> Any:
    items = (first, *extra)
    for item in items:
        if not isinstance(item, DefaultPlaceholder):
            return item
    return first


# ------------------------------------------------------------------------------------------ routes


class BaseRoute:
    path: str
    path_regex: re.Pattern[str]
    path_format: str
    param_convertors: dict[str, str]
    name: str | None = None
    methods: set[str] | None = None
    include_in_schema = True

    def match_path(self, path: str) -> dict[str, str] | None:
        # Cheap string checks first: most routes are rejected without running their regex.
        fmt = self.path_format
        if not self.param_convertors:
            return {} if path == fmt else None
        if not path.startswith(fmt[: fmt.index("{")]):
            return None
        match = self.path_regex.match(path)
        if match is None:
            return None
        return match.groupdict()

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if name != self.name or set(path_params) != set(self.param_convertors):
            raise NoMatchFound(name, path_params)
        path = self.path_format
        for key, value in path_params.items():
            path = path.replace("{" + key + "}", _to_path_string(value, self.param_convertors[key]))
        return URLPath(path=path, protocol="http")

    def bind(self, app: Any) -> None:
        self._app = app


class Route(BaseRoute):
    """A plain route: `endpoint(request) -> Response` (Starlette's Route; `app.add_route`)."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Sequence[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        if not path.startswith("/"):
            raise AssertionError("Routed paths must start with '/'")
        self.path = path
        self.endpoint = endpoint
        self.name = name if name is not None else getattr(endpoint, "__name__", type(endpoint).__name__)
        self.include_in_schema = include_in_schema
        if methods is None:
            methods = ["GET"]
        self.methods = {m.upper() for m in methods}
        if "GET" in self.methods:
            self.methods.add("HEAD")
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self._app: Any = None
        self._is_async = inspect.iscoroutinefunction(endpoint) or inspect.iscoroutinefunction(
            getattr(endpoint, "__call__", None)
        )

    def handle(self, req: Any) -> Any:
        return self._run(req, req.path_params, None)

    def _run(self, data: Any, path_params: dict[str, Any], request: Request | None) -> Any:
        if request is None:
            request = Request(data, path_params, self._app)
        else:
            request._path_params = path_params
        try:
            result = self.endpoint(request)
        except Exception as exc:
            return _handle_error(self._app, request, exc, catch_all=_catch_all(self._app))
        if not isinstance(result, Response):
            result = _foreign.adapt(result)  # a Starlette response: ours
        if inspect.isawaitable(result) or getattr(result, "needs_collect", False):
            return self._finish(result, request)
        return result

    async def _finish(self, result: Any, request: Request) -> Response:
        try:
            if inspect.isawaitable(result):
                result = _foreign.adapt(await result)
            if result.needs_collect:
                await result.collect()
        except Exception as exc:
            response = _handle_error(self._app, request, exc, catch_all=_catch_all(self._app))
            return await response if inspect.isawaitable(response) else response
        return result


def _catch_all(app: Any) -> bool:
    # Without middleware the route also applies the 500/Exception handler (Starlette's
    # ServerErrorMiddleware); with middleware that happens outside the middleware stack.
    return app is None or not app.user_middleware


def _handle_error(app: Any, request: Any, exc: Exception, *, catch_all: bool) -> Any:
    """Exception -> Response (or awaitable Response) through the app's handlers; re-raise if none.

    `request` may be a zero-argument factory so the Request is only built when a handler needs it.
    """
    handler, server_error = lookup_exception_handler(app, exc, catch_all=catch_all)
    if server_error:
        # A 500: tell the TestClient (raise_server_exceptions), as Starlette re-raises these.
        observer = getattr(app, "_exception_observer", None)
        if observer is not None:
            observer(exc)
    if handler is None:
        raise exc
    sync = SYNC_DEFAULTS.get(handler)
    if sync is not None:
        return sync(exc)
    if callable(request) and not isinstance(request, Request):
        request = request()
    result = handler(request, exc)
    if isinstance(result, Response):
        return result
    return _foreign.adapt_collected(result)  # an awaitable, or a Starlette response


def lookup_exception_handler(app: Any, exc: Exception, *, catch_all: bool) -> tuple[Callable[..., Any] | None, bool]:
    """(handler, is_server_error). Status-code handlers apply to HTTPException only; the 500 /
    Exception handler only when `catch_all` (outside middleware, like ServerErrorMiddleware)."""
    if app is None:
        from .exception_handlers import http_exception_handler, request_validation_exception_handler

        handlers: dict[Any, Any] = {
            StarletteHTTPException: http_exception_handler,
            RequestValidationError: request_validation_exception_handler,
        }
    else:
        handlers = app.exception_handlers
    foreign = None  # Starlette's HTTPException/WebSocketException: handled as ours (FastAPI's subclass them)
    if isinstance(exc, StarletteHTTPException) or (foreign := _foreign.ours_for(exc)) is StarletteHTTPException:
        handler = handlers.get(exc.status_code)  # type: ignore[attr-defined]
        if handler is not None:
            return handler, False
    for cls in type(exc).__mro__:
        if cls is Exception:
            break
        handler = handlers.get(cls)
        if handler is not None:
            return handler, False
    if foreign is not None and (handler := handlers.get(foreign)) is not None:
        return handler, False
    if catch_all:
        return handlers.get(500) or handlers.get(Exception), True
    return None, False


_MODEL_DUMP = BaseModel.model_dump


def _prepare_response_content(
    res: Any, *, exclude_unset: bool, exclude_defaults: bool, exclude_none: bool
) -> Any:
    if isinstance(res, BaseModel):
        if type(res).model_dump is _MODEL_DUMP and not (exclude_unset or exclude_defaults or exclude_none):
            # What model_dump(by_alias=True) does, without its Python-level call.
            return res.__pydantic_serializer__.to_python(res, by_alias=True)
        return res.model_dump(
            by_alias=True, exclude_unset=exclude_unset, exclude_defaults=exclude_defaults, exclude_none=exclude_none
        )
    if isinstance(res, list):
        return [
            _prepare_response_content(
                item, exclude_unset=exclude_unset, exclude_defaults=exclude_defaults, exclude_none=exclude_none
            )
            for item in res
        ]
    if isinstance(res, dict):
        return {
            key: _prepare_response_content(
                value, exclude_unset=exclude_unset, exclude_defaults=exclude_defaults, exclude_none=exclude_none
            )
            for key, value in res.items()
        }
    if dataclasses.is_dataclass(res) and not isinstance(res, type):
        return dataclasses.asdict(res)
    return res


def _json_response(body: bytes, status_code: int | None, background: Any) -> JSONResponse:
    """A JSONResponse around already-encoded JSON (skips render())."""
    response = JSONResponse.__new__(JSONResponse)
    response.status_code = 200 if status_code is None else status_code
    response.background = background
    response.body = body
    response.raw_headers = [(b"content-type", b"application/json")]
    return response


class APIRoute(BaseRoute):
    """A FastAPI path operation. Attribute names follow FastAPI (the OpenAPI generator reads them)."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        response_model: Any = Default(None),
        status_code: int | None = None,
        tags: list[str | Enum] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        summary: str | None = None,
        description: str | None = None,
        response_description: str = "Successful Response",
        responses: dict[int | str, dict[str, Any]] | None = None,
        deprecated: bool | None = None,
        name: str | None = None,
        methods: set[str] | list[str] | None = None,
        operation_id: str | None = None,
        response_model_include: Any = None,
        response_model_exclude: Any = None,
        response_model_by_alias: bool = True,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        include_in_schema: bool = True,
        response_class: type[Response] | DefaultPlaceholder = Default(JSONResponse),
        dependency_overrides_provider: Any = None,
        callbacks: list[BaseRoute] | None = None,
        strict_content_type: bool | DefaultPlaceholder = Default(True),
        openapi_extra: dict[str, Any] | None = None,
        generate_unique_id_function: Callable[[APIRoute], str] | DefaultPlaceholder = Default(generate_unique_id),
        body_limit: int | None = None,
        blocking: bool = False,
        static: bool = False,
        batch: Batch | None = None,
        max_body_size: int | None = None,
        form_limits: FormLimits | None = None,
    ) -> None:
        self.path = path
        self.batch = batch
        if batch is not None:
            # Route analysis sees one request: `f(item: Item) -> Out` (see fasterapi.batching).
            endpoint = per_item_endpoint(endpoint)
        self.endpoint = endpoint
        self.static = static
        # Generator endpoints stream: JSON Lines by default, Server-Sent Events with
        # EventSourceResponse, the raw chunks with any other response class.
        self._stream_kind = _stream_kind(endpoint, response_class)
        self.is_json_stream = self._stream_kind == "jsonl"
        self.is_sse_stream = self._stream_kind == "sse"
        self.stream_item_type: Any = None
        if isinstance(response_model, DefaultPlaceholder):
            return_annotation = get_typed_return_annotation(endpoint)
            stream_item = _stream_item_type(return_annotation)
            if inspect.isclass(return_annotation) and (
                issubclass(return_annotation, Response) or _foreign.special_class(return_annotation) is Response
            ):
                response_model = None
            elif stream_item is not None and self._stream_kind is not None:
                if self._stream_kind in ("jsonl", "sse") and not _is_server_sent_event(stream_item):
                    self.stream_item_type = stream_item
                response_model = None
            else:
                response_model = return_annotation
        self.response_model = response_model
        self.summary = summary
        self.response_description = response_description
        self.deprecated = deprecated
        self.operation_id = operation_id
        self.response_model_include = response_model_include
        self.response_model_exclude = response_model_exclude
        self.response_model_by_alias = response_model_by_alias
        self.response_model_exclude_unset = response_model_exclude_unset
        self.response_model_exclude_defaults = response_model_exclude_defaults
        self.response_model_exclude_none = response_model_exclude_none
        self.include_in_schema = include_in_schema
        self.response_class = response_class
        self.dependency_overrides_provider = dependency_overrides_provider
        self.callbacks = callbacks
        self.openapi_extra = openapi_extra
        self.generate_unique_id_function = generate_unique_id_function
        self.tags = tags or []
        self.responses = responses or {}
        self.name = name if name is not None else getattr(endpoint, "__name__", type(endpoint).__name__)
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.methods: set[str] = {m.upper() for m in (methods or ["GET"])}
        # FastAPI's max_body_size is the engine's per-route body limit (`body_limit`, our older name).
        validate_max_body_size(max_body_size)
        self.max_body_size = max_body_size if max_body_size is not None else body_limit
        self.body_limit = self.max_body_size
        self.form_limits = validate_form_limits(form_limits)
        self._inherited_form_limits: dict[str, int] = {}  # from the routers it was included through
        # FastAPI >= 0.13x: a JSON body needs a JSON Content-Type (a missing one is not JSON).
        self.strict_content_type = strict_content_type
        self._strict_json = bool(
            strict_content_type.value if isinstance(strict_content_type, DefaultPlaceholder) else strict_content_type
        )
        self.blocking = blocking
        if isinstance(generate_unique_id_function, DefaultPlaceholder):
            self.unique_id = generate_unique_id_function.value(self)
        else:
            self.unique_id = generate_unique_id_function(self)
        if isinstance(status_code, IntEnum):
            status_code = int(status_code)
        self.status_code = status_code
        if self.response_model:
            if not is_body_allowed_for_status_code(status_code):
                raise AssertionError(f"Status code {status_code} must not have a response body")
            try:
                self.response_field: ModelField | None = ModelField(
                    "Response_" + self.unique_id, params.Body(), self.response_model, mode="serialization"
                )
            except Exception as exc:
                raise FastAPIError(
                    "Invalid args for response field! Hint: check that "
                    f"{self.response_model} is a valid Pydantic field type. If you are using a return "
                    "type annotation that is not a valid Pydantic field (e.g. Union[Response, dict, None]) "
                    "you can disable generating the response model from the type annotation with the "
                    "path operation decorator parameter response_model=None."
                ) from exc
            self.secure_cloned_response_field = self.response_field
        else:
            self.response_field = None
            self.secure_cloned_response_field = None
        self.stream_item_field: ModelField | None = None
        if self.stream_item_type is not None:
            self.stream_item_field = ModelField(
                "StreamItem_" + self.unique_id, params.Body(), self.stream_item_type, mode="serialization"
            )
        self.dependencies = list(dependencies or [])
        self.description = description or inspect.cleandoc(self.endpoint.__doc__ or "")
        self.description = self.description.split("\f")[0].strip()
        self.response_fields: dict[int | str, ModelField] = {}
        for additional_status_code, response in self.responses.items():
            if not isinstance(response, dict):
                raise AssertionError("An additional response must be a dict")
            model = response.get("model")
            if model:
                if not is_body_allowed_for_status_code(additional_status_code):
                    raise AssertionError(f"Status code {additional_status_code} must not have a response body")
                self.response_fields[additional_status_code] = ModelField(
                    f"Response_{additional_status_code}_{self.unique_id}", params.Body(), model,
                    mode="serialization",
                )
        self.dependant = get_dependant(path=self.path_format, call=self.endpoint)
        for depends in self.dependencies[::-1]:
            self.dependant.dependencies.insert(
                0, get_param_sub_dependant(param_name=None, depends=depends, annotation=None, path=self.path_format)
            )
        self._analyse()
        self.body_field = get_body_field(flat_dependant=self._flat_dependant, name=self.unique_id)
        self._is_coroutine = _is_async_callable(endpoint)
        self._pool_engine: Any = None  # set by the app when blocking calls go to the engine's native pool
        self._offload_direct = False  # handle() returns an Offload for the engine (blocking, no dependencies)
        self._app: Any = None
        # FastAPI's hook: a subclass overriding get_route_handler() (timing, a custom Request class,
        # error logging) has every request run through the handler it returns (Python path only).
        self._route_handler: Callable[[Request], Awaitable[Response]] | None = None
        if type(self).get_route_handler is not APIRoute.get_route_handler:
            self._route_handler = self.get_route_handler()
        self._bind_common()

    def _analyse(self) -> None:
        """What the request path caches from `self.dependant` (at registration, and again when
        `route.app` is assigned after the dependant was changed)."""
        self._flat_dependant = get_flat_dependant(self.dependant)
        self._embed_body_fields = _should_embed_body_fields(self._flat_dependant.body_params)
        self._body_plan = BodyPlan(self.dependant.body_params) if self.dependant.body_params else None
        if self._body_plan is not None:
            self.dependant.body_plan = self._body_plan  # type: ignore[attr-defined]
        self._apply_form_limits()
        self._has_dependencies = bool(self.dependant.dependencies)
        if self.static:
            _check_constant_route(self)

    # ------------------------------------------------------------------- route.app (FastAPI's)

    @property
    def app(self) -> Any:
        """The route as an ASGI app (FastAPI/Starlette's `route.app`): `request_response` around
        `get_route_handler()`. The engine does not call it; requests go through `handle`."""
        asgi_app = self.__dict__.get("_asgi_app")
        if asgi_app is None:
            asgi_app = self._asgi_app = request_response(self.get_route_handler())
        return asgi_app

    @app.setter
    def app(self, value: Any) -> None:
        """FastAPI's way to rebuild a route after changing it (fastapi-pagination appends to
        `route.dependant.dependencies`, sets `route.body_field`, then assigns
        `route.app = request_response(route.get_route_handler())`): the route's analysis is
        redone from its current `dependant`, and the app it is bound to rebuilds its engine (and
        the route's fast plan) on the next request. Other routes are untouched."""
        self.__dict__["_asgi_app"] = value
        if "_route_handler" not in self.__dict__:
            return  # a subclass assigning it before APIRoute.__init__ ran
        handler = value.handler if isinstance(value, _RequestResponse) else None
        if handler is not None and not _is_default_handler(self, handler):
            self._route_handler = handler  # a handler of its own: the Python path runs it
        elif handler is None and callable(value):
            # Any other ASGI app (`route.app = SomeASGIMiddleware(route.app)`): requests run it.
            from ._asgi_bridge import ASGIAsRequestApp

            self._route_handler = ASGIAsRequestApp(value, self._app)
        elif type(self).get_route_handler is not APIRoute.get_route_handler:
            self._route_handler = self.get_route_handler()
        else:
            self._route_handler = None
        self._analyse()
        self._bind_common()
        app = self._app
        if app is not None:
            app._engine = None  # the next request builds the engine again (fast plans included)
            app._prepared_for = None

    def _apply_form_limits(self, inherited: dict[str, int] | None = None) -> None:
        """Hand the route's form limits to every body plan of its dependency tree (the app's own
        `form_limits` are merged under them when a form is parsed)."""
        if inherited is not None:
            self._inherited_form_limits = inherited
        limits = {**self._inherited_form_limits, **self.form_limits} or None
        for dependant in iter_dependants(self.dependant):
            dependant.form_limits = limits  # type: ignore[attr-defined]
            plan = getattr(dependant, "body_plan", None)
            if plan is not None:
                plan.form_limits = limits

    # --------------------------------------------------------------------------------- binding

    def _bind_common(self) -> None:
        response_class = self.response_class
        if isinstance(response_class, DefaultPlaceholder):
            response_class = response_class.value
        self._response_class: type[Response] = response_class
        # JSONResponse handles models/dates itself (engine JSON writer with a default hook).
        self._encode_content = response_class is not JSONResponse
        if (factory := _foreign.response_factory(response_class)) is not None:
            self._response_class = factory  # a Starlette class: its responses become ours
        model = self.response_model
        self._response_model_class = model if is_model_class(model) else None
        # response_model serialization options that differ from pydantic's defaults (by_alias is
        # FastAPI's default, not pydantic's).
        self._serialize_options = {
            key: value
            for key, value in (
                ("include", self.response_model_include),
                ("exclude", self.response_model_exclude),
                ("by_alias", self.response_model_by_alias),
                ("exclude_unset", self.response_model_exclude_unset),
                ("exclude_defaults", self.response_model_exclude_defaults),
                ("exclude_none", self.response_model_exclude_none),
            )
            if value or key == "by_alias" or (key in ("include", "exclude") and value is not None)
        }
        self._response_filters = bool(
            self.response_model_include or self.response_model_exclude or self.response_model_exclude_unset
            or self.response_model_exclude_defaults or self.response_model_exclude_none
            or not self.response_model_by_alias
        )
        if self._is_coroutine or self._has_dependencies or self.blocking:
            self._run = self._run_async
        else:
            self._run = self._run_sync  # no coroutine at all for plain sync endpoints
        if getattr(self, "_route_handler", None) is not None:
            self._run = self._run_custom
        self._override_cache: dict[Any, Dependant] = {}

    def bind(self, app: Any) -> None:
        """Attach the app (exception handlers, overrides) and resolve app-level defaults."""
        self._app = app
        self._catch_all = _catch_all(app)
        self._bind_common()

    def handle(self, req: Any) -> Any:
        """The engine's entry point for a matched route."""
        if self._offload_direct and self._route_handler is None:
            return self._run_offload(req, req.path_params)
        return self._run(req, req.path_params, None)

    def _run_offload(self, data: Any, path_params: dict[str, Any]) -> Any:
        """A blocking route without dependencies on the engine's native pool: validate here, hand the
        engine an Offload(call, then); `then` builds the response on the loop thread."""
        from ._runtime import Offload

        ctx = RequestContext(data, path_params, self._app, None)
        ctx.strict_json = self._strict_json
        try:
            values = self._plain_values(ctx)
        except Exception as exc:
            return _handle_error(self._app, lambda: ctx.request, exc, catch_all=self._catch_all_flag())
        call = functools.partial(contextvars.copy_context().run, self.endpoint, **values)
        return Offload(call, functools.partial(self._after_offload, ctx))

    def _after_offload(self, ctx: RequestContext, raw: Any, exc: BaseException | None) -> Any:
        try:
            if exc is not None:
                raise exc
            response = self._make_response(raw, ctx)
        except Exception as error:
            return _handle_error(self._app, lambda: ctx.request, error, catch_all=self._catch_all_flag())
        if response.needs_collect:
            if _engine_streams(response):
                return _for_engine(response, self._app)  # streamed by the engine (see _run_sync)
            return self._collect(response, ctx)
        if response.background is not None:
            schedule_background(response.background)
        return response

    # -------------------------------------------------------------------------------- fast plan

    def fast_plan(self, core: Any, allow_blocking: bool = False) -> tuple[Any, ...] | None:
        """The native fast-path plan (see docs/architecture.md), or None when Python must run.

        (call, is_async, status, params, body, guard, json_bytes): `call` is the endpoint itself,
        or, with dependencies or a response_model, a function compiled once that calls the
        dependencies, the endpoint and the response serializer (fasterapi.dependencies.compiled).
        A blocking route has one only for the engine's native pool (`allow_blocking`), which then
        runs the endpoint on a worker thread.
        """
        dependant = self.dependant
        has_extras = (
            bool(dependant.dependencies) or self.response_field is not None
            or dependant.request_param_name is not None or dependant.http_connection_param_name is not None
            or dependant.response_param_name is not None or dependant.background_tasks_param_name is not None
        )
        if (
            (self.blocking and (not allow_blocking or has_extras))
            or self.batch is not None
            or self._response_class is not JSONResponse
            or getattr(type(self), "get_route_handler", None) is not getattr(APIRoute, "get_route_handler", None)
            or self._route_handler is not None
        ):
            return None
        if self.status_code is not None and not is_body_allowed_for_status_code(self.status_code):
            return None  # 204/304: the body must be dropped, which Python does
        if self._stream_kind is not None or _may_return_unfinished_response(self.endpoint):
            return None
        plan = self._body_plan
        body_name = None
        if plan is not None:
            if plan.kind != "single" or plan.validate_json is None:
                return None
            assert plan.single is not None
            body_name = plan.single.name

        def param_plan(field: Any, source: str) -> tuple[Any, ...]:
            kind = _SCALAR_KINDS.get(strip_optional(field.annotation)) if not _has_annotated(field) else None
            if (
                kind is None
                or field.field_info.metadata
                or field.param_model is not None
                or field.is_sequence
                or field.default_factory is not None
            ):
                raise NotCompilable(f"parameter {field.name!r} needs pydantic")
            if field.required:
                default = core.REQUIRED
            elif isinstance(field.default, (str, int, float, bool, type(None))):
                default = field.default
            else:
                raise NotCompilable(f"parameter {field.name!r} has a mutable default")
            return (field.name, source, kind, default, field.alias)

        status_code = self.status_code if self.status_code is not None else 200
        try:
            if not has_extras:
                # The endpoint itself is called with the converted parameters.
                for special in _SPECIAL_PARAMS:
                    if getattr(dependant, special):
                        return None
                params = [param_plan(f, "path") for f in dependant.path_params]
                params += [param_plan(f, "query") for f in dependant.query_params]
                params += [param_plan(f, "header") for f in dependant.header_params]
                params += [param_plan(f, "cookie") for f in dependant.cookie_params]
                body = (body_name, plan.validate_json) if plan is not None and body_name else None
                return (self.endpoint, self._is_coroutine, status_code, tuple(params), body, None, False, False)
            app = self._app if self._app is not None else self.dependency_overrides_provider
            call, is_async, params, body_arg, wants_request, makes_response = compile_call(
                dependant, self.endpoint, self._is_coroutine, body_name, param_plan,
                result=self._fast_result() if self.response_field is not None else None,
                swallowed=_swallowed_error,
                make_request=functools.partial(_request_from_data, app),
                make_response=(_PlanContext, self._make_response),
            )
        except NotCompilable:
            return None
        body = (body_arg, plan.validate_json) if plan is not None and body_arg else None
        guard = app if dependant.dependencies else None
        json_bytes = self.response_field is not None and not makes_response
        return (call, is_async, status_code, tuple(params), body, guard, json_bytes, wants_request)

    def _fast_result(self) -> Callable[[Any], Any]:
        """response_model for the compiled fast path: a Response passes through; anything else
        becomes the JSON bytes FastAPI would send (the engine writes them as the body).

        Specialised once per route: the common case (a model or dict returned, no include/exclude
        options) is `_serialize` with every decision taken here instead of per request.
        """
        field = self.response_field
        assert field is not None
        serialize = self._serialize
        if self._response_filters or not self.response_model_by_alias or self._response_class is not JSONResponse:
            def result(raw: Any) -> Any:
                if isinstance(raw, Response) or (callable(raw) and _foreign.is_foreign_response(raw)):
                    return raw
                return serialize(field, raw)

            return result
        model = self._response_model_class
        validate = field._validate_python
        to_json = field._adapter.serializer.to_json

        def result(raw: Any) -> Any:
            cls = type(raw)
            if cls is model:
                return to_json(raw, by_alias=True)
            if cls is dict:
                content = raw
            elif isinstance(raw, BaseModel) and cls.model_dump is _MODEL_DUMP:
                content = raw.__pydantic_serializer__.to_python(raw, by_alias=True)  # model_dump(by_alias=True)
            elif isinstance(raw, Response) or (callable(raw) and _foreign.is_foreign_response(raw)):
                return raw
            else:
                content = _prepare_response_content(raw, exclude_unset=False, exclude_defaults=False, exclude_none=False)
            try:
                value = validate(content)
            except ValidationError as exc:
                raise ResponseValidationError(regenerate_errors(exc.errors(include_url=False), ("response",)), body=raw) from None
            return to_json(value, by_alias=True)

        return result

    # ---------------------------------------------------------------------------- request path

    def _plain_values(self, ctx: RequestContext) -> dict[str, Any]:
        """The endpoint's arguments for a route without dependencies: 413 over its body limit,
        FastAPI's 422 for invalid parameters (raised)."""
        if self.body_limit is not None and self._too_large(ctx.data):
            raise HTTPException(status_code=413)
        values: dict[str, Any] = {}
        errors: list[Any] = []
        solve_params(ctx, self.dependant, self._body_plan, values, errors)
        if errors:
            raise RequestValidationError(errors, body=ctx.body)
        return values

    def _too_large(self, data: Any) -> bool:
        limit = self.body_limit
        return limit is not None and len(data.body) > limit

    def _run_sync(self, data: Any, path_params: dict[str, Any], request: Request | None) -> Any:
        ctx = RequestContext(data, path_params, self._app, request)
        ctx.strict_json = self._strict_json
        try:
            response = self._make_response(self.endpoint(**self._plain_values(ctx)), ctx)
        except Exception as exc:
            return _handle_error(self._app, lambda: ctx.request, exc, catch_all=self._catch_all_flag())
        if response.needs_collect:
            if _engine_streams(response):
                return _for_engine(response, self._app)  # sent as it comes, then its background tasks
            return self._collect(response, ctx)
        if response.background is not None:
            schedule_background(response.background)
        return response

    async def _collect(self, response: Response, ctx: RequestContext) -> Response:
        try:
            await response.collect()
        except Exception as exc:
            result = _handle_error(self._app, lambda: ctx.request, exc, catch_all=self._catch_all_flag())
            return await result if inspect.isawaitable(result) else result
        if response.background is not None:
            schedule_background(response.background)
        return response

    async def _run_async(self, data: Any, path_params: dict[str, Any], request: Request | None) -> Response:
        ctx = RequestContext(data, path_params, self._app, request)
        ctx.strict_json = self._strict_json
        try:
            response = await self._respond(ctx, stream=True)
        except Exception as exc:
            result = _handle_error(self._app, lambda: ctx.request, exc, catch_all=self._catch_all_flag())
            return await result if inspect.isawaitable(result) else result
        if response.needs_collect:
            return _for_engine(response, self._app)  # streamed by the engine, then its background tasks
        if response.background is not None:
            schedule_background(response.background)
        return response

    async def _respond(self, ctx: RequestContext, stream: bool = False) -> Response:
        """Dependencies, validation, the endpoint and its response (collected), yield dependencies
        closed; exceptions propagate (to the app's handlers, or a custom route handler's wrapper).

        stream: a StreamingResponse is left for the engine to send as it comes, unless a
        dependency with yield is open (its resources must outlive the body: collected first)."""
        try:
            if self._has_dependencies:
                if self.body_limit is not None and self._too_large(ctx.data):
                    raise HTTPException(status_code=413)
                app = self._app
                overrides = app.dependency_overrides if app is not None else None
                values, errors = await solve_dependencies(ctx, self.dependant, overrides, self._override_cache)
                if errors:
                    raise RequestValidationError(errors, body=ctx.body)
            else:
                values = self._plain_values(ctx)
            if self._is_coroutine:
                raw = await self.endpoint(**values)
            elif self.blocking:
                raw = await self._call_blocking(values)
            else:
                raw = self.endpoint(**values)
            response = self._make_response(raw, ctx)
            if response.needs_collect and not (stream and ctx.stack is None and _engine_streams(response)):
                await response.collect()
        except Exception as exc:
            stack = ctx.stack
            if stack is not None:
                # Yield dependencies see the exception (and may replace it with their own).
                ctx.stack = None
                if await stack.__aexit__(type(exc), exc, exc.__traceback__):
                    raise FastAPIError(_SWALLOWED_BY_DEPENDENCY) from exc
            raise
        stack = ctx.stack
        if stack is not None:
            ctx.stack = None
            await stack.aclose()
        return response

    def _call_blocking(self, values: dict[str, Any]) -> Awaitable[Any]:
        engine = self._pool_engine
        if engine is None:
            return run_in_threadpool(self.endpoint, **values)
        from . import _runtime  # the engine's native pool: no executor, the result comes back via epoll

        call = functools.partial(contextvars.copy_context().run, self.endpoint, **values)
        return _runtime.offload(engine, call)

    def _batch_item_response(self, raw: Any) -> Response:
        """One result of a batch as its Response (response_model, response_class, status_code)."""
        return self._make_response(raw, _NO_CONTEXT)  # type: ignore[arg-type]

    def batch_plan(self) -> tuple[Any, ...] | None:
        """(endpoint, is_async, validate_json, status, item_response) for the engine's collector."""
        plan = self._body_plan
        if self.batch is None or plan is None or plan.kind != "single" or plan.validate_json is None or self._route_handler:
            return None
        endpoint = self.endpoint.__batch_endpoint__  # type: ignore[attr-defined]
        item_response = None
        if self.response_field is not None or self._response_class is not JSONResponse:
            item_response = self._batch_item_response
        status = self.status_code if self.status_code is not None else 200
        return (endpoint, self._is_coroutine, plan.validate_json, status, item_response)

    # ----------------------------------------------------------------- get_route_handler (FastAPI)

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        """The route's request handler, `async (request) -> Response`, as FastAPI's.

        It runs dependencies, validation, the endpoint and response_model for the given `request`
        (its `body()` is what the route reads, so a `Request` subclass may decode it) and lets
        exceptions (`RequestValidationError`, `HTTPException`, ...) propagate to the app's exception
        handlers. Override it in an `APIRoute` subclass (`APIRouter(route_class=...)`) to wrap it.
        """
        return self._request_handler

    async def _request_handler(self, request: Request) -> Response:
        data = request._data
        body = await request.body()
        if body is not data.body:
            data = _WithBody(data, body)
        ctx = RequestContext(data, request.path_params, self._app, request)
        ctx.strict_json = self._strict_json
        return await self._respond(ctx)

    def _run_custom(self, data: Any, path_params: dict[str, Any], request: Request | None) -> Any:
        if request is None:
            request = Request(data, path_params, self._app)
        else:
            request._path_params = path_params
            if request._scope is not None:
                request._scope["path_params"] = path_params
        return self._finish_custom(request)

    async def _finish_custom(self, request: Request) -> Response:
        handler = self._route_handler
        assert handler is not None
        try:
            response = await handler(request)
            if response.needs_collect:
                await response.collect()
        except Exception as exc:
            result = _handle_error(self._app, request, exc, catch_all=self._catch_all_flag())
            return await result if inspect.isawaitable(result) else result
        if response.background is not None:
            schedule_background(response.background)
        return response

    def _catch_all_flag(self) -> bool:
        return getattr(self, "_catch_all", True)

    def _make_response(self, raw: Any, ctx: RequestContext) -> Response:
        if self._stream_kind is not None and not isinstance(raw, Response):
            return self._stream_response(raw, ctx)
        if callable(raw) and not isinstance(raw, Response) and _foreign.is_foreign_response(raw):
            raw = _foreign.to_response(raw, getattr(ctx.data, "headers", None))  # a Starlette response: as it is
        if isinstance(raw, Response):
            if raw.background is None and ctx.background is not None:
                raw.background = ctx.background
            return raw
        sub = ctx.sub_response
        status_code = self.status_code
        if sub is not None and sub.status_code:
            status_code = sub.status_code
        field = self.response_field
        if field is not None:
            content = self._serialize(field, raw)
            if self._response_class is JSONResponse:
                response: Response = _json_response(content, status_code, ctx.background)
            elif status_code is None:
                response = self._response_class(content, background=ctx.background)
            else:
                response = self._response_class(content, status_code=status_code, background=ctx.background)
        else:
            content = jsonable_encoder(raw) if self._encode_content else raw
            if status_code is None:
                response = self._response_class(content, background=ctx.background)
            else:
                response = self._response_class(content, status_code=status_code, background=ctx.background)
        if status_code is not None and not is_body_allowed_for_status_code(status_code):
            response.body = b""
        if sub is not None and sub.raw_headers:
            response.raw_headers.extend(sub.raw_headers)
        return response

    def _stream_response(self, gen: Any, ctx: RequestContext) -> Response:
        """The response of a generator endpoint (collected by the engine before it is sent)."""
        kind = self._stream_kind
        status_code = self.status_code
        sub = ctx.sub_response
        if sub is not None and sub.status_code:
            status_code = sub.status_code
        kwargs: dict[str, Any] = {"background": ctx.background}
        if status_code is not None:
            kwargs["status_code"] = status_code
        if kind == "raw":
            response: Response = self._response_class(content=gen, **kwargs)  # type: ignore[call-arg]
        else:
            encode = self._stream_item_json
            if kind == "sse":
                from .sse import ServerSentEvent, format_sse_event

                def item_bytes(item: Any) -> bytes:
                    if isinstance(item, ServerSentEvent):
                        if item.raw_data is not None:
                            data: str | None = item.raw_data
                        elif item.data is not None:
                            data = item.data.model_dump_json() if isinstance(item.data, BaseModel) else json.dumps(
                                jsonable_encoder(item.data)
                            )
                        else:
                            data = None
                        return format_sse_event(
                            data_str=data, event=item.event, id=item.id, retry=item.retry, comment=item.comment
                        )
                    return format_sse_event(data_str=encode(item).decode("utf-8"))

                media_type = "text/event-stream"
            else:

                def item_bytes(item: Any) -> bytes:
                    return encode(item) + b"\n"

                media_type = "application/jsonl"
            response = StreamingResponse(_map_stream(gen, item_bytes), media_type=media_type, **kwargs)
            if kind == "sse":
                response.raw_headers.append((b"cache-control", b"no-cache"))
                response.raw_headers.append((b"x-accel-buffering", b"no"))
        if sub is not None and sub.raw_headers:
            response.raw_headers.extend(sub.raw_headers)
        return response

    def _stream_item_json(self, item: Any) -> bytes:
        field = self.stream_item_field
        if field is None:
            return json.dumps(jsonable_encoder(item)).encode("utf-8")
        value, errors = field.validate_response(item)
        if errors:
            raise ResponseValidationError(errors, body=item)
        return field._adapter.dump_json(
            value,
            include=self.response_model_include,
            exclude=self.response_model_exclude,
            by_alias=self.response_model_by_alias,
            exclude_unset=self.response_model_exclude_unset,
            exclude_defaults=self.response_model_exclude_defaults,
            exclude_none=self.response_model_exclude_none,
        )

    def _serialize(self, field: ModelField, raw: Any) -> Any:
        """response_model: filter/validate like FastAPI. Returns JSON bytes for JSONResponse."""
        if self._response_model_class is not None and type(raw) is self._response_model_class and not self._response_filters:
            value = raw  # already the declared model: nothing to filter or re-validate
        else:
            content = _prepare_response_content(
                raw,
                exclude_unset=self.response_model_exclude_unset,
                exclude_defaults=self.response_model_exclude_defaults,
                exclude_none=self.response_model_exclude_none,
            )
            value, errors = field.validate_response(content)
            if errors:
                raise ResponseValidationError(errors, body=raw)
        options = self._serialize_options
        if self._response_class is JSONResponse:
            # The core serializer directly (TypeAdapter.dump_json adds a Python-level call), with
            # only the options that differ from its defaults.
            return field._adapter.serializer.to_json(value, **options)
        return field.serialize(value, mode="json", **options)

    def __repr__(self) -> str:
        return f"APIRoute(path={self.path!r}, name={self.name!r}, methods={sorted(self.methods)!r})"


class _RequestResponse:
    """What `request_response(handler)` returns: an ASGI app that runs `handler(request)` and
    sends its response. Assigned to `APIRoute.app`, its handler becomes the route's."""

    __slots__ = ("handler",)

    def __init__(self, handler: Callable[[Request], Any]) -> None:
        self.handler = handler

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        response = self.handler(request)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)

    def __repr__(self) -> str:
        return f"request_response({self.handler!r})"


def request_response(func: Callable[[Request], Any]) -> Any:
    """An ASGI app from a request handler (Starlette's/FastAPI's `request_response`): `func` is
    `async (Request) -> Response` or a sync one (run in the thread pool)."""
    if not _is_async_callable(func):
        sync = func

        async def func(request: Request) -> Any:  # type: ignore[no-redef]
            return await run_in_threadpool(sync, request)

        func.__wrapped__ = sync  # type: ignore[attr-defined]
    return _RequestResponse(func)


def _is_default_handler(route: APIRoute, handler: Any) -> bool:
    return getattr(handler, "__self__", None) is route and getattr(handler, "__func__", None) is APIRoute._request_handler


@dataclasses.dataclass
class _IncludedRouter(BaseRoute):
    """FastAPI >= 0.137 keeps an included router as one `_IncludedRouter` entry of `routes`
    (pointing at `original_router`); code that walks `app.routes` (fastapi-pagination's
    `_iter_api_routes`) checks for it. Our `include_router` copies the routes (as FastAPI did
    before), so no entry of `routes` is one: the name exists for `isinstance`/`match`."""

    original_router: Any
    include_context: Any = None


def _check_constant_route(route: APIRoute) -> None:
    """static=True: the first response is replayed for every request, so the endpoint must not
    depend on the request (no parameters, dependencies, Request/Response/BackgroundTasks)."""
    dependant = route._flat_dependant
    top = route.dependant
    if (
        route.param_convertors
        or dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or top.dependencies
        or top.request_param_name
        or top.http_connection_param_name
        or top.response_param_name
        or top.background_tasks_param_name
        or top.security_scopes_param_name
        or top.websocket_param_name
    ):
        raise FastAPIError(
            f"static=True needs a constant endpoint: {route.name!r} ({route.path}) takes request data or "
            "dependencies; its first response would be replayed for every request"
        )


_NATIVE_ANNOTATIONS: dict[str, Any] = {"int": int, "float": float, "uuid": uuid.UUID}
_NATIVE_NO_DEPENDENCIES = (
    "native routes run no Python, so they cannot run dependencies (router or app dependencies "
    "included): check them in the handler, or use a Python route"
)


def _native_endpoint(path: str, symbol: str) -> Callable[..., Any]:
    """A stand-in endpoint whose signature lists the path parameters, for OpenAPI and url_path_for."""

    def endpoint(**kwargs: Any) -> Any:  # never called: the engine (or NativeHandler) serves the route
        raise RuntimeError("native route endpoints are not callable")

    _, _, convertors = compile_path(path)
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=_NATIVE_ANNOTATIONS.get(conv, str))
            for name, conv in convertors.items()
        ]
    )
    endpoint.__name__ = endpoint.__qualname__ = symbol
    endpoint.__doc__ = None
    return endpoint


class NativeRoute(APIRoute):
    """A path operation served by a C ABI handler from a shared library (fasterapi_native.h).

    The engine matches it in the same router as Python routes and calls the handler without
    making Python objects or calling Python. OpenAPI documents it like any route (path parameters
    as strings, or int/float/UUID for `{x:int}`-style convertors; summary, description, tags,
    responses, response_class and friends as given). When every request is routed in Python
    (an app with middleware), the same handler runs through `NativeHandler.__call__`.
    """

    def __init__(
        self,
        path: str,
        *,
        library: str | os.PathLike[str],
        symbol: str,
        methods: set[str] | list[str] | None = None,
        release_gil: bool = False,
        native: Any = None,
        name: str | None = None,
        response_class: type[Response] = Response,
        **kwargs: Any,
    ) -> None:
        from . import _core

        if kwargs.get("dependencies"):
            raise FastAPIError(_NATIVE_NO_DEPENDENCIES)
        library = os.fspath(library)
        if os.sep in library:
            library = os.path.abspath(library)
        self.library = library
        self.symbol = symbol
        self.release_gil = release_gil
        self.native = native if native is not None else _core.NativeHandler(library, symbol, release_gil)
        self._native_kwargs = dict(kwargs, name=name, response_class=response_class)
        super().__init__(
            path,
            _native_endpoint(path, symbol),
            response_model=None,
            methods=methods or ["GET"],
            name=name or symbol,
            response_class=response_class,
            **kwargs,
        )

    def copy_with(self, *, prefix: str, tags: list[Any], include_in_schema: bool) -> NativeRoute:
        """The same handler under a router prefix (include_router)."""
        kwargs = dict(self._native_kwargs, tags=tags, include_in_schema=include_in_schema)
        return NativeRoute(
            prefix + self.path, library=self.library, symbol=self.symbol, methods=sorted(self.methods),
            release_gil=self.release_gil, native=self.native, **kwargs,
        )

    def _bind_common(self) -> None:
        super()._bind_common()
        self._run = self._run_native

    def fast_plan(self, core: Any, **options: Any) -> None:
        return None

    def _run_native(self, data: Any, path_params: dict[str, Any], request: Request | None) -> Response:
        status, headers, body = self.native(data, path_params)
        response = Response(body, status_code=status)
        response.raw_headers = [(name.lower(), value) for name, value in headers]
        return response

    def __repr__(self) -> str:
        return f"NativeRoute(path={self.path!r}, symbol={self.symbol!r}, methods={sorted(self.methods)!r})"


_SWALLOWED_BY_DEPENDENCY = (
    "Response not awaited. There's a high chance that the application code is raising an exception "
    "and a dependency with yield has a block with a bare except, or a block with except Exception, "
    "and is not raising the exception again. Read more about it in the docs: "
    "https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/#dependencies-with-yield-and-except"
)


class _PlanContext:
    """What _make_response reads of a request context, for compiled plans with a Response or
    BackgroundTasks parameter (RequestContext.get_response/get_background semantics)."""

    __slots__ = ("sub_response", "background")
    data = None
    get_response = RequestContext.get_response
    get_background = RequestContext.get_background

    def __init__(self) -> None:
        self.sub_response: Response | None = None
        self.background: Any = None


def _request_from_data(app: Any, data: Any) -> Request:
    """The Request a compiled fast plan passes to `request: Request` parameters."""
    return Request(data, data.path_params, app)


def _swallowed_error() -> Exception:
    return FastAPIError(_SWALLOWED_BY_DEPENDENCY)


_SCALAR_KINDS = {int: "int", float: "float", str: "str", bool: "bool"}
# Endpoint parameters the engine cannot pass natively (they need the Request or the response).
_SPECIAL_PARAMS = (
    "request_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
    "websocket_param_name",
)
_STREAM_ORIGINS = {
    collections.abc.AsyncIterable, collections.abc.AsyncIterator, collections.abc.AsyncGenerator,
    collections.abc.Iterable, collections.abc.Iterator, collections.abc.Generator,
}


def _stream_kind(endpoint: Callable[..., Any], response_class: Any) -> str | None:
    call = inspect.unwrap(endpoint)
    if not (inspect.isasyncgenfunction(call) or inspect.isgeneratorfunction(call)):
        return None
    if isinstance(response_class, DefaultPlaceholder):
        return "jsonl"
    from .sse import EventSourceResponse

    if inspect.isclass(response_class) and issubclass(response_class, EventSourceResponse):
        return "sse"
    return "raw"


def _stream_item_type(annotation: Any) -> Any:
    """`AsyncIterable[Item]`, `Iterator[Item]`, ... -> Item (Any without arguments); else None."""
    origin = get_origin(annotation)
    if origin is not None and origin in _STREAM_ORIGINS:
        args = get_args(annotation)
        return args[0] if args else Any
    return None


def _is_server_sent_event(annotation: Any) -> bool:
    from .sse import ServerSentEvent

    return inspect.isclass(annotation) and issubclass(annotation, ServerSentEvent)


async def _map_stream(gen: Any, encode: Callable[[Any], bytes]) -> Any:
    if hasattr(gen, "__aiter__"):
        async for item in gen:
            yield encode(item)
    else:
        for item in gen:
            yield encode(item)


_NO_CONTEXT = types.SimpleNamespace(sub_response=None, background=None)
_UNFINISHED_NAMES = frozenset({"StreamingResponse", "FileResponse", "EventSourceResponse", "BackgroundTask", "BackgroundTasks"})


def _may_return_unfinished_response(endpoint: Callable[..., Any]) -> bool:
    """Does the endpoint's code mention a streaming/file response or background tasks?

    Such responses need Python after the endpoint returns (collect the body, schedule the tasks),
    which the native fast path does not do, so the route stays on the Python path. A
    registration-time look at the code's names; helpers building such responses are not seen.
    """
    code = getattr(inspect.unwrap(endpoint), "__code__", None)
    if code is None:
        return True
    namespace = getattr(inspect.unwrap(endpoint), "__globals__", {})
    from .background import BackgroundTask

    def scan(code_obj: Any) -> bool:
        for name in code_obj.co_names:
            if name in _UNFINISHED_NAMES:
                return True
            value = namespace.get(name)
            if inspect.isclass(value) and (
                (issubclass(value, Response) and value.needs_collect) or issubclass(value, BackgroundTask)
            ):
                return True
        for const in code_obj.co_consts:
            if isinstance(const, tuple) and "background" in const:
                return True
            if inspect.iscode(const) and scan(const):
                return True
        return False

    return scan(code)


def _has_annotated(field: ModelField) -> bool:
    """Annotated metadata (validators, pydantic Field) means pydantic must run: no fast plan."""
    annotation = field.annotation
    if get_origin(annotation) is Annotated:
        return True
    return any(get_origin(arg) is Annotated for arg in get_args(annotation))


def _is_async_callable(obj: Any) -> bool:
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)
    return not inspect.isfunction(obj) and not inspect.isclass(obj) and inspect.iscoroutinefunction(call)


# ------------------------------------------------------------------------------------------ mounts


class _MountedData:
    """RequestData seen by a mounted app: same request, path relative to the mount point."""

    __slots__ = ("_data", "path", "root_path", "path_params", "app_root_path", "root_app")

    def __init__(self, data: Any, path: str, root_path: str) -> None:
        self._data = data
        self.path = path
        self.root_path = root_path
        self.path_params: dict[str, str] = {}
        # The outermost app and its root path: request.url_for/base_url as Starlette's (its
        # scope["router"] and app_root_path).
        self.app_root_path = ""
        self.root_app: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)


class _WithBody:
    """RequestData with the body a custom `Request.body()` returned (e.g. decompressed)."""

    __slots__ = ("_data", "body")

    def __init__(self, data: Any, body: bytes) -> None:
        self._data = data
        self.body = body

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)


class Mount(BaseRoute):
    """A sub-application under a path prefix.

    The mounted `app` is either a FasterAPI app (routed with its own routes, handlers and
    middleware), or any callable `app(request) -> Response | Awaitable[Response]` (StaticFiles, ...):
    it receives a `Request` whose `path_params["path"]` and `scope["path"]` are the path below the
    mount point and whose `scope["root_path"]` is the mount prefix, or an ASGI app
    (`app(scope, receive, send)`: Starlette apps, `WSGIMiddleware`), run with the scope Starlette's
    Mount builds (fasterapi._asgi_bridge).
    """

    def __init__(self, path: str, app: Any = None, routes: Sequence[BaseRoute] | None = None, name: str | None = None) -> None:
        if path != "" and not path.startswith("/"):
            raise AssertionError("Routed paths must start with '/'")
        if app is None and routes is None:
            raise AssertionError("Either 'app=...', or 'routes=' must be specified")
        self.path = path.rstrip("/")
        if app is None:
            router = APIRouter(routes=list(routes or []))
            app = router
        self.app = app
        self.name = name
        self.methods = None
        self.include_in_schema = False
        self.path_regex, self.path_format, self.param_convertors = compile_path(self.path + "/{path:path}")
        self._app: Any = None

    @property
    def routes(self) -> list[BaseRoute]:
        return getattr(self.app, "routes", [])

    def match_path(self, path: str) -> dict[str, str] | None:
        prefix = self.path
        if path == prefix:
            return {"path": "/"}
        if path.startswith(prefix + "/"):
            return {"path": path[len(prefix) :]}
        return None

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            rest = str(path_params.pop("path"))
            if path_params:
                raise NoMatchFound(name, path_params)
            return URLPath(self.path + "/" + rest.lstrip("/"))
        if self.name is None or name.startswith(self.name + ":"):
            remaining = name if self.name is None else name[len(self.name) + 1 :]
            for route in self.routes:
                try:
                    url = route.url_path_for(remaining, **path_params)
                except NoMatchFound:
                    continue
                return URLPath(self.path + str(url))
        raise NoMatchFound(name, path_params)

    def dispatch(self, data: Any, remainder: str, request: Request | None, parent: Any) -> Any:
        outer_root = root_path_of(data, parent)
        root_path = outer_root + self.path
        mounted = _MountedData(data, remainder, root_path)
        top_root = getattr(data, "app_root_path", None)
        mounted.app_root_path = outer_root if top_root is None else top_root
        mounted.root_app = getattr(data, "root_app", None) or parent
        app = self.app
        handler = getattr(app, "_handle_mounted", None)
        if handler is not None:
            return handler(mounted, request)
        if _mounted_is_asgi(self, app):
            # A plain ASGI app (Starlette app, a2wsgi, ...): run with the child scope Starlette builds.
            from ._asgi_bridge import call_mounted_asgi

            def on_error(req: Request, exc: Exception) -> Any:
                return _handle_error(parent, req, exc, catch_all=_catch_all(parent))

            return call_mounted_asgi(app, data, request, parent, self.path, remainder, on_error)
        sub_request = Request(mounted, {"path": remainder}, app)
        sub_request.scope["root_path"] = root_path
        sub_request.scope["path"] = remainder
        if request is not None:
            sub_request._state = request._state
        try:
            result = app(sub_request)
        except Exception as exc:
            return _handle_error(parent, sub_request, exc, catch_all=_catch_all(parent))
        if inspect.isawaitable(result) or getattr(result, "needs_collect", False):
            return _await_mounted(result, parent, sub_request)
        return result


def _mounted_is_asgi(mount: Mount, app: Any) -> bool:
    cached = mount.__dict__.get("_asgi_for")
    if cached is None or cached[0] is not app:
        from ._asgi_bridge import is_asgi_app

        cached = mount._asgi_for = (app, is_asgi_app(app))  # type: ignore[attr-defined]
    return cached[1]


async def _await_mounted(result: Any, parent: Any, request: Request) -> Response:
    try:
        if inspect.isawaitable(result):
            result = await result
        if result.needs_collect:
            await result.collect()
        return result
    except Exception as exc:
        response = _handle_error(parent, request, exc, catch_all=_catch_all(parent))
        return await response if inspect.isawaitable(response) else response


# ------------------------------------------------------------------------------------------ router


Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


class APIRouter:
    def __init__(
        self,
        *,
        prefix: str = "",
        tags: list[str | Enum] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        default_response_class: type[Response] = Default(JSONResponse),
        responses: dict[int | str, dict[str, Any]] | None = None,
        callbacks: list[BaseRoute] | None = None,
        routes: list[BaseRoute] | None = None,
        redirect_slashes: bool = True,
        default: Any = None,
        dependency_overrides_provider: Any = None,
        route_class: type[APIRoute] = APIRoute,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
        lifespan: Lifespan | None = None,
        strict_content_type: bool | DefaultPlaceholder = Default(True),
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        generate_unique_id_function: Callable[[APIRoute], str] = Default(generate_unique_id),
        max_body_size: int | None = None,
        form_limits: FormLimits | None = None,
    ) -> None:
        if prefix:
            if not prefix.startswith("/"):
                raise AssertionError("A path prefix must start with '/'")
            if prefix.endswith("/"):
                raise AssertionError("A path prefix must not end with '/', as the routes will start with '/'")
        validate_max_body_size(max_body_size)
        self.max_body_size = max_body_size
        self.form_limits = validate_form_limits(form_limits)
        self.prefix = prefix
        self.tags: list[str | Enum] = tags or []
        self.dependencies = list(dependencies or [])
        self.default_response_class = default_response_class
        self.responses = responses or {}
        self.callbacks = callbacks or []
        self.routes: list[BaseRoute] = list(routes or [])
        self.redirect_slashes = redirect_slashes
        self.default = default
        self.dependency_overrides_provider = dependency_overrides_provider
        self.route_class = route_class
        self.on_startup: list[Callable[[], Any]] = list(on_startup or [])
        self.on_shutdown: list[Callable[[], Any]] = list(on_shutdown or [])
        # Never None (as Starlette's): code that wraps `router.lifespan_context` (fastapi-pagination)
        # calls the one it found.
        self.lifespan_context: Lifespan = lifespan if lifespan is not None else _DefaultLifespan(self)
        self.strict_content_type = strict_content_type
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.generate_unique_id_function = generate_unique_id_function

    # ------------------------------------------------------------------------------ registration

    def add_api_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        response_model: Any = Default(None),
        status_code: int | None = None,
        tags: list[str | Enum] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        summary: str | None = None,
        description: str | None = None,
        response_description: str = "Successful Response",
        responses: dict[int | str, dict[str, Any]] | None = None,
        deprecated: bool | None = None,
        methods: set[str] | list[str] | None = None,
        operation_id: str | None = None,
        response_model_include: Any = None,
        response_model_exclude: Any = None,
        response_model_by_alias: bool = True,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        include_in_schema: bool = True,
        response_class: type[Response] | DefaultPlaceholder = Default(JSONResponse),
        name: str | None = None,
        route_class_override: type[APIRoute] | None = None,
        strict_content_type: bool | DefaultPlaceholder = Default(True),
        callbacks: list[BaseRoute] | None = None,
        openapi_extra: dict[str, Any] | None = None,
        generate_unique_id_function: Callable[[APIRoute], str] | DefaultPlaceholder = Default(generate_unique_id),
        body_limit: int | None = None,
        blocking: bool = False,
        static: bool = False,
        batch: Batch | None = None,
        max_body_size: int | None = None,
        form_limits: FormLimits | None = None,
    ) -> None:
        validate_max_body_size(max_body_size)
        route_class = route_class_override or self.route_class
        current_strict = get_value_or_default(strict_content_type, self.strict_content_type)
        if not isinstance(current_strict, DefaultPlaceholder):
            kwargs_strict: dict[str, Any] = {"strict_content_type": current_strict}
        else:
            kwargs_strict = {}
        responses = responses or {}
        combined_responses = {**self.responses, **responses}
        current_response_class = get_value_or_default(response_class, self.default_response_class)
        current_tags = [*self.tags, *(tags or [])]
        current_dependencies = [*self.dependencies, *(dependencies or [])]
        current_callbacks = [*self.callbacks, *(callbacks or [])]
        current_generate_unique_id = get_value_or_default(
            generate_unique_id_function, self.generate_unique_id_function
        )
        route = route_class(
            self.prefix + path,
            endpoint=endpoint,
            response_model=response_model,
            status_code=status_code,
            tags=current_tags,
            dependencies=current_dependencies,
            summary=summary,
            description=description,
            response_description=response_description,
            responses=combined_responses,
            deprecated=deprecated or self.deprecated,
            methods=methods,
            operation_id=operation_id,
            response_model_include=response_model_include,
            response_model_exclude=response_model_exclude,
            response_model_by_alias=response_model_by_alias,
            response_model_exclude_unset=response_model_exclude_unset,
            response_model_exclude_defaults=response_model_exclude_defaults,
            response_model_exclude_none=response_model_exclude_none,
            include_in_schema=include_in_schema and self.include_in_schema,
            response_class=current_response_class,
            name=name,
            dependency_overrides_provider=self.dependency_overrides_provider,
            callbacks=current_callbacks,
            openapi_extra=openapi_extra,
            generate_unique_id_function=current_generate_unique_id,
            body_limit=body_limit,
            max_body_size=get_body_size_limit(max_body_size, body_limit, self.max_body_size),
            form_limits=form_limits,
            blocking=blocking,
            **({"batch": batch} if batch is not None else {}),
            **kwargs_strict,
            **({"static": True} if static else {}),
        )
        self.routes.append(route)

    def api_route(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_api_route(path, func, **kwargs)
            return func

        return decorator

    def _method_route(self, method: str, path: str, kwargs: dict[str, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        kwargs["methods"] = [method]
        return self.api_route(path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._method_route("GET", path, kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._method_route("PUT", path, kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._method_route("POST", path, kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._method_route("DELETE", path, kwargs)

    def options(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._method_route("OPTIONS", path, kwargs)

    def head(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._method_route("HEAD", path, kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._method_route("PATCH", path, kwargs)

    def trace(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._method_route("TRACE", path, kwargs)

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Sequence[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        self.routes.append(
            Route(self.prefix + path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema)
        )

    def route(
        self, path: str, methods: Sequence[str] | None = None, name: str | None = None, include_in_schema: bool = True
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_route(path, func, methods=methods, name=name, include_in_schema=include_in_schema)
            return func

        return decorator

    def add_native_route(
        self,
        methods: str | Sequence[str],
        path: str,
        *,
        library: str | os.PathLike[str],
        symbol: str,
        release_gil: bool = False,
        **kwargs: Any,
    ) -> NativeRoute:
        """Serve `path` with a C ABI handler from a shared library (see fasterapi_native.h).

        `library` is loaded now (a relative path is resolved against the current directory);
        `kwargs` are documentation options (summary, description, tags, responses, ...).
        """
        if self.dependencies:
            raise FastAPIError(_NATIVE_NO_DEPENDENCIES)
        route = NativeRoute(
            self.prefix + path,
            methods=[methods] if isinstance(methods, str) else list(methods),
            library=library,
            symbol=symbol,
            release_gil=release_gil,
            tags=[*self.tags, *(kwargs.pop("tags", None) or [])],
            include_in_schema=kwargs.pop("include_in_schema", True) and self.include_in_schema,
            **kwargs,
        )
        self.routes.append(route)
        return route

    def mount(self, path: str, app: Any, name: str | None = None) -> None:
        self.routes.append(Mount(self.prefix + path, app=app, name=name))

    # ------------------------------------------------------------------------ websocket routes

    def add_api_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        name: str | None = None,
        *,
        dependencies: Sequence[params.Depends] | None = None,
    ) -> None:
        self.routes.append(APIWebSocketRoute(
            self.prefix + path, endpoint, name=name,
            dependencies=[*self.dependencies, *(dependencies or [])],
            dependency_overrides_provider=self.dependency_overrides_provider,
        ))

    def websocket(
        self, path: str, name: str | None = None, *, dependencies: Sequence[params.Depends] | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_api_websocket_route(path, func, name=name, dependencies=dependencies)
            return func

        return decorator

    def add_websocket_route(self, path: str, endpoint: Callable[..., Any], name: str | None = None) -> None:
        self.routes.append(WebSocketRoute(self.prefix + path, endpoint, name=name))

    def websocket_route(self, path: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_websocket_route(path, func, name=name)
            return func

        return decorator

    def include_router(
        self,
        router: APIRouter,
        *,
        strict_content_type: bool | DefaultPlaceholder = Default(True),
        prefix: str = "",
        tags: list[str | Enum] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        default_response_class: type[Response] = Default(JSONResponse),
        responses: dict[int | str, dict[str, Any]] | None = None,
        callbacks: list[BaseRoute] | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        generate_unique_id_function: Callable[[APIRoute], str] = Default(generate_unique_id),
        max_body_size: int | None = None,
        form_limits: FormLimits | None = None,
    ) -> None:
        validate_max_body_size(max_body_size)
        # This inclusion's form limits, the included router's over them (the route's over both).
        include_form_limits = {**validate_form_limits(form_limits), **router.form_limits}
        if prefix:
            if not prefix.startswith("/"):
                raise AssertionError("A path prefix must start with '/'")
            if prefix.endswith("/"):
                raise AssertionError("A path prefix must not end with '/', as the routes will start with '/'")
        else:
            for r in router.routes:
                path = getattr(r, "path", None)
                name = getattr(r, "name", "unknown")
                if path is not None and not path and not isinstance(r, Mount):
                    raise FastAPIError(
                        f"Prefix and path cannot be both empty (path operation: {name})"
                    )
        responses = responses or {}
        for route in router.routes:
            if isinstance(route, NativeRoute):
                if dependencies or self.dependencies:
                    raise FastAPIError(_NATIVE_NO_DEPENDENCIES)
                self.routes.append(route.copy_with(
                    prefix=self.prefix + prefix,
                    tags=[*(tags or []), *route.tags],
                    include_in_schema=route.include_in_schema and self.include_in_schema and include_in_schema,
                ))
            elif isinstance(route, APIRoute):
                combined_responses = {**responses, **route.responses}
                use_response_class = get_value_or_default(
                    route.response_class, router.default_response_class, default_response_class,
                    self.default_response_class,
                )
                current_tags = [*(tags or []), *route.tags]
                current_dependencies = [*(dependencies or []), *route.dependencies]
                current_callbacks = [*(callbacks or []), *(route.callbacks or [])]
                current_generate_unique_id = get_value_or_default(
                    route.generate_unique_id_function, router.generate_unique_id_function,
                    generate_unique_id_function, self.generate_unique_id_function,
                )
                self.add_api_route(
                    prefix + route.path,
                    route.endpoint,
                    response_model=route.response_model,
                    status_code=route.status_code,
                    tags=current_tags,
                    dependencies=current_dependencies,
                    summary=route.summary,
                    description=route.description,
                    response_description=route.response_description,
                    responses=combined_responses,
                    deprecated=route.deprecated or deprecated or self.deprecated,
                    methods=route.methods,
                    operation_id=route.operation_id,
                    response_model_include=route.response_model_include,
                    response_model_exclude=route.response_model_exclude,
                    response_model_by_alias=route.response_model_by_alias,
                    response_model_exclude_unset=route.response_model_exclude_unset,
                    response_model_exclude_defaults=route.response_model_exclude_defaults,
                    response_model_exclude_none=route.response_model_exclude_none,
                    include_in_schema=route.include_in_schema and self.include_in_schema and include_in_schema,
                    response_class=use_response_class,
                    name=route.name,
                    route_class_override=type(route),
                    callbacks=current_callbacks,
                    openapi_extra=route.openapi_extra,
                    generate_unique_id_function=current_generate_unique_id,
                    max_body_size=get_body_size_limit(
                        getattr(route, "max_body_size", route.body_limit), router.max_body_size, max_body_size
                    ),
                    form_limits=getattr(route, "form_limits", None),
                    strict_content_type=get_value_or_default(
                        getattr(route, "strict_content_type", Default(True)), router.strict_content_type,
                        strict_content_type, self.strict_content_type,
                    ),
                    blocking=route.blocking,
                    **({"batch": route.batch} if getattr(route, "batch", None) is not None else {}),
                    static=getattr(route, "static", False),
                )
                included = self.routes[-1]
                if isinstance(included, APIRoute):
                    included._apply_form_limits(
                        {**include_form_limits, **getattr(route, "_inherited_form_limits", {})}
                    )
            elif isinstance(route, Route):
                methods = sorted(route.methods - {"HEAD"}) if route.methods else None
                self.add_route(
                    prefix + route.path, route.endpoint, methods=methods,
                    include_in_schema=route.include_in_schema, name=route.name,
                )
            elif isinstance(route, Mount):
                self.routes.append(Mount(self.prefix + prefix + route.path, app=route.app, name=route.name))
            elif isinstance(route, APIWebSocketRoute):
                self.add_api_websocket_route(
                    prefix + route.path, route.endpoint, name=route.name,
                    dependencies=[*(dependencies or []), *route.dependencies],
                )
            elif isinstance(route, WebSocketRoute):
                self.add_websocket_route(prefix + route.path, route.endpoint, name=route.name)
        self.on_startup.extend(router.on_startup)
        self.on_shutdown.extend(router.on_shutdown)
        if router.lifespan_context is not None and not isinstance(router.lifespan_context, _DefaultLifespan):
            self.lifespan_context = _merge_lifespans(self.lifespan_context, router.lifespan_context)

    # ----------------------------------------------------------------------------------- events

    def add_event_handler(self, event_type: str, func: Callable[[], Any]) -> None:
        if event_type == "startup":
            self.on_startup.append(func)
        elif event_type == "shutdown":
            self.on_shutdown.append(func)
        else:
            raise ValueError(f"Unknown event type {event_type!r}")

    def on_event(self, event_type: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_event_handler(event_type, func)
            return func

        return decorator

    async def startup(self) -> None:
        for handler in self.on_startup:
            result = handler()
            if inspect.isawaitable(result):
                await result

    async def shutdown(self) -> None:
        for handler in self.on_shutdown:
            result = handler()
            if inspect.isawaitable(result):
                await result

    # ---------------------------------------------------------------------------------- lookup

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)

    def resolve(self, method: str, path: str) -> tuple[str, Any, Any]:
        """Python-side matching: ("full"|"head"|"mount", route, params), ("partial", allowed, None)
        or ("none", None, None)."""
        head_candidate = None
        allowed: set[str] = set()
        for route in self.routes:
            found = route.match_path(path)
            if found is None:
                continue
            if isinstance(route, Mount):
                if head_candidate is not None:
                    break
                return "mount", route, found["path"]
            methods = route.methods
            if methods is None or method in methods:
                return "full", route, found
            if method == "HEAD" and "GET" in methods:
                if head_candidate is None:
                    head_candidate = (route, found)
                continue
            allowed |= methods
        if head_candidate is not None:
            return "head", head_candidate[0], head_candidate[1]
        if allowed:
            return "partial", allowed, None
        return "none", None, None


class _DefaultLifespan:
    """`router.lifespan_context` of a router created without `lifespan=` (Starlette's name): it
    does nothing itself, the app runs `on_startup`/`on_shutdown` around whatever lifespan the
    router ends up with."""

    def __init__(self, router: APIRouter) -> None:
        self._router = router

    def __call__(self, app: Any) -> AbstractAsyncContextManager[Any]:
        return contextlib.nullcontext()


def _merge_lifespans(outer: Lifespan | None, inner: Lifespan) -> Lifespan:
    if outer is None or isinstance(outer, _DefaultLifespan):
        return inner

    @asynccontextmanager
    async def merged(app: Any):  # type: ignore[no-untyped-def]
        async with outer(app) as outer_state, inner(app) as inner_state:
            if outer_state is None and inner_state is None:
                yield None
            else:
                yield {**(outer_state or {}), **(inner_state or {})}

    return merged


def request_url(data: Any, path: str) -> str:
    """An absolute URL for `path` on the request's host (redirect_slashes)."""
    host = None
    for key, value in data.headers:
        if key == b"host":
            host = value.decode("latin-1")
            break
    if host is None:
        server = data.server
        host = f"{server[0]}:{server[1]}" if server else "testserver"
    url = f"{scheme_of(data)}://{host}{path}"
    if data.query_string:
        url += "?" + data.query_string.decode("latin-1")
    return url


def redirect_response(data: Any, path: str) -> RedirectResponse:
    return RedirectResponse(URL(request_url(data, path)))


# Websocket routes live in their own module (it builds on the classes above).
from .websocket_routing import APIWebSocketRoute, WebSocketRoute  # noqa: E402

__all__ = [
    "APIRoute",
    "APIRouter",
    "APIWebSocketRoute",
    "BaseRoute",
    "Mount",
    "NoMatchFound",
    "Route",
    "WebSocketRoute",
    "compile_path",
    "generate_unique_id",
    "pending_background_tasks",
    "wait_background_tasks",
]
