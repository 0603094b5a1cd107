"""Signature analysis (once, at registration) and dependency solving (per request).

`get_dependant()` turns an endpoint or dependency signature into a `Dependant` whose parameters are
`ModelField`s with compiled validators. `solve_dependencies()` then only looks values up, validates
and calls: no `inspect`, no type analysis on the request path.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Annotated, Any, ForwardRef, get_args, get_origin

from pydantic import AliasChoices, BeforeValidator, GetPydanticSchema, Json, Tag, ValidationError, create_model
from pydantic.fields import FieldInfo
from types import UnionType
from typing import Union

from .. import params
from .._compat import (
    ModelField,
    Undefined,
    is_model_class,
    is_scalar_annotation,
    lenient_issubclass,  # noqa: F401 - re-exported as FastAPI does (fastapi-pagination imports it here)
    is_sequence_annotation,
    regenerate_errors,
    strip_annotated,
    strip_optional,
)
from .._foreign import special_class, translate_annotation
from ..background import BackgroundTasks
from ..datastructures import FormData, Headers, QueryParams, UploadFile
from ..exceptions import FastAPIError, RequestValidationError
from ..requests import HTTPConnection, MultiPartException, Request, cookie_parser, parse_form_body
from ..responses import Response
from .models import Dependant, SecurityRequirement

_PATH_PARAM_RE = re.compile(r"{(\w+)(?::\w+)?}")


def get_path_param_names(path: str) -> set[str]:
    return set(_PATH_PARAM_RE.findall(path))


# ------------------------------------------------------------------------------------- signatures


def get_typed_signature(call: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(call, eval_str=True)
    except (NameError, TypeError):
        signature = inspect.signature(call)
    # Unresolvable forward references: evaluate what we can in the callable's globals.
    globalns = getattr(call, "__globals__", {})
    parameters = []
    for param in signature.parameters.values():
        annotation = param.annotation
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, globalns)  # noqa: S307 - same as typing.get_type_hints
            except Exception:
                annotation = ForwardRef(annotation)
        parameters.append(param.replace(annotation=annotation))
    return signature.replace(parameters=parameters)


def get_typed_return_annotation(call: Callable[..., Any]) -> Any:
    try:
        annotation = inspect.signature(call, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError):
        return None
    if annotation is inspect.Signature.empty:
        return None
    return annotation


def get_call_kind(call: Callable[..., Any]) -> str:
    """How to invoke a dependency: "sync", "async", "gen" or "asyncgen"."""
    if inspect.isclass(call):
        return "sync"  # constructing an instance
    candidates: list[Any] = [call]
    if not (inspect.isfunction(call) or inspect.ismethod(call) or isinstance(call, functools.partial)):
        dunder = getattr(call, "__call__", None)  # a callable instance: look at its __call__
        if dunder is not None:
            candidates.append(dunder)
    for candidate in candidates:
        if inspect.isasyncgenfunction(candidate):
            return "asyncgen"
        if inspect.isgeneratorfunction(candidate):
            return "gen"
        if inspect.iscoroutinefunction(candidate):
            return "async"
    return "sync"


def _security_base() -> type | None:
    try:
        from ..security.base import SecurityBase  # written separately; optional at import time
    except ImportError:
        return None
    return SecurityBase


def _is_security_scopes(annotation: Any) -> bool:
    if not inspect.isclass(annotation):
        return False
    try:
        from ..security import SecurityScopes
    except ImportError:
        return annotation.__name__ == "SecurityScopes"
    return issubclass(annotation, SecurityScopes)


# ------------------------------------------------------------------------------------- analysis


def _split_annotated(annotation: Any) -> tuple[Any, list[Any]]:
    """Annotated[T, x, Query()] -> (Annotated[T, x] or T, [Query()]): our markers vs type metadata."""
    if get_origin(annotation) is not Annotated:
        return annotation, []
    args = get_args(annotation)
    base, extras = args[0], args[1:]
    ours = [e for e in extras if isinstance(e, (FieldInfo, params.Depends))]
    kept = [e for e in extras if not isinstance(e, (FieldInfo, params.Depends))]
    if kept:
        base = Annotated[(base, *kept)]  # type: ignore[misc]
    return base, ours


def analyze_param(
    *, name: str, annotation: Any, value: Any, is_path_param: bool
) -> tuple[Any, params.Depends | None, FieldInfo | None, Any]:
    """Returns (type, depends, field_info, default)."""
    from ..datastructures import UploadFile as _UploadFile

    if annotation is inspect.Parameter.empty:
        annotation = Any
    base, markers = _split_annotated(annotation)
    depends: params.Depends | None = None
    field_info: FieldInfo | None = None
    for marker in markers:  # the last FastAPI marker wins, as in FastAPI
        if isinstance(marker, params.Depends):
            depends, field_info = marker, None
        else:
            field_info, depends = marker, None
    default = Undefined if value is inspect.Parameter.empty else value
    if isinstance(default, params.Depends):
        if field_info is not None or depends is not None:
            raise AssertionError(f"Cannot specify `Depends` in `Annotated` and default value together for {name!r}")
        depends, default = default, Undefined
    elif isinstance(default, FieldInfo):
        if field_info is not None or depends is not None:
            raise AssertionError(f"Cannot specify FastAPI markers in `Annotated` and default value for {name!r}")
        field_info = default
        default = field_info.default
    elif field_info is not None and field_info.default is not Undefined and default is Undefined:
        default = field_info.default
    if depends is not None:
        return base, depends, None, Undefined
    if field_info is not None and not isinstance(field_info, (params.Param, params.Body)):
        # A plain pydantic Field(): keep it as type metadata, classify by the usual rules.
        base = Annotated[base, field_info]
        field_info = None
    if field_info is None:
        if is_path_param:
            field_info = params.Path()
        elif _is_upload_annotation(strip_optional(base), _UploadFile):
            field_info = params.File(default)
        elif is_scalar_annotation(base):
            field_info = params.Query(default)
        else:
            field_info = params.Body(default)
    return base, None, field_info, default


def _is_upload_annotation(annotation: Any, upload_cls: type) -> bool:
    if inspect.isclass(annotation) and issubclass(annotation, upload_cls):
        return True
    if get_origin(annotation) in (list, tuple, set):
        args = get_args(annotation)
        return bool(args) and inspect.isclass(args[0]) and issubclass(args[0], upload_cls)
    return False


def _param_alias(name: str, field_info: FieldInfo) -> str:
    # A parameter is read by its validation alias (`Query(validation_alias="s")`), as FastAPI's
    # get_validation_alias; pydantic sets it to the alias when only `alias=` is given.
    validation_alias = field_info.validation_alias
    if isinstance(validation_alias, str) and validation_alias and isinstance(field_info, params.Param):
        return validation_alias
    if field_info.alias:
        return field_info.alias
    if isinstance(field_info, params.Header) and field_info.convert_underscores:
        return name.replace("_", "-")
    return name


def _make_field(name: str, annotation: Any, field_info: FieldInfo, default: Any) -> ModelField:
    alias = _param_alias(name, field_info)
    if isinstance(field_info, params.Header):
        alias = alias.lower()
    field = ModelField(name, field_info, annotation, alias=alias, default=default)
    # Extra per-field facts the request path uses, computed here once.
    field.param_model = _param_model_keys(annotation, field_info) if isinstance(field_info, params.Param) else None
    field.is_bytes_file = isinstance(field_info, params.File) and _is_bytes_annotation(annotation)
    field.form_models = _form_models(annotation, field_info)
    return field


def _is_bytes_annotation(annotation: Any) -> bool:
    annotation = strip_optional(annotation)
    if annotation is bytes:
        return True
    if get_origin(annotation) in (list, tuple, set):
        args = get_args(annotation)
        return bool(args) and strip_annotated(args[0]) is bytes
    return False


def _param_model_keys(annotation: Any, field_info: FieldInfo) -> list[tuple[str, str, bool]] | None:
    """For `Annotated[Model, Query()]`: [(key in the request, key for the model, is_sequence)]."""
    model = strip_optional(annotation)
    if not is_model_class(model):
        return None
    keys = []
    for field_name, info in model.model_fields.items():
        model_key = info.alias or field_name
        request_key = model_key
        if isinstance(field_info, params.Header) and field_info.convert_underscores and not info.alias:
            request_key = field_name.replace("_", "-")
        if isinstance(field_info, params.Header):
            request_key = request_key.lower()
        keys.append((request_key, model_key, is_sequence_annotation(info.annotation)))
    return keys


def get_dependant(
    *,
    path: str,
    call: Callable[..., Any],
    name: str | None = None,
    security_scopes: list[str] | None = None,
    use_cache: bool = True,
    scope: str | None = None,
) -> Dependant:
    path_param_names = get_path_param_names(path)
    signature = get_typed_signature(call)
    dependant = Dependant(
        call=call, name=name, path=path, security_scopes=security_scopes, use_cache=use_cache, scope=scope
    )
    dependant.call_kind = get_call_kind(call)
    if dependant.call_kind == "gen":
        dependant.cm_factory = contextmanager(call)  # type: ignore[attr-defined]
    elif dependant.call_kind == "asyncgen":
        dependant.cm_factory = asynccontextmanager(call)  # type: ignore[attr-defined]
    for param_name, param in signature.parameters.items():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        annotation, depends, field_info, default = analyze_param(
            name=param_name,
            annotation=translate_annotation(param.annotation),  # starlette's UploadFile: ours
            value=param.default,
            is_path_param=param_name in path_param_names,
        )
        if depends is not None:
            sub = get_param_sub_dependant(
                param_name=param_name, depends=depends, annotation=annotation, path=path,
                security_scopes=security_scopes,
            )
            dependant.dependencies.append(sub)
            continue
        if _add_special_param(dependant, param_name, annotation):
            continue
        assert field_info is not None
        if isinstance(field_info, params.Form) and _form_union_models(annotation):
            # Each branch of a union of form models reads the form its own way (FastAPI).
            annotation = _add_form_union_validators(annotation)
        field = _make_field(param_name, annotation, field_info, default)
        if isinstance(field_info, params.Path):
            dependant.path_params.append(field)
        elif isinstance(field_info, params.Header):
            dependant.header_params.append(field)
        elif isinstance(field_info, params.Cookie):
            dependant.cookie_params.append(field)
        elif isinstance(field_info, params.Query):
            dependant.query_params.append(field)
        else:
            dependant.body_params.append(field)
    return dependant


def _add_special_param(dependant: Dependant, name: str, annotation: Any) -> bool:
    annotation = strip_annotated(annotation)
    if not inspect.isclass(annotation):
        return False
    if issubclass(annotation, Request):
        dependant.request_param_name = name
    elif issubclass(annotation, HTTPConnection):
        dependant.http_connection_param_name = name
    elif issubclass(annotation, Response):
        dependant.response_param_name = name
    elif issubclass(annotation, BackgroundTasks):
        dependant.background_tasks_param_name = name
    elif _is_security_scopes(annotation):
        dependant.security_scopes_param_name = name
        dependant.security_scopes_class = annotation
    elif (ours := special_class(annotation) if annotation.__module__ != "builtins" else None) is not None:
        # starlette's Request/HTTPConnection/WebSocket/Response/BackgroundTasks: ours are injected.
        return _add_special_param(dependant, name, ours)
    elif annotation.__name__ == "WebSocket":
        dependant.websocket_param_name = name
    else:
        return False
    return True


def get_param_sub_dependant(
    *,
    param_name: str | None,
    depends: params.Depends,
    annotation: Any,
    path: str,
    security_scopes: list[str] | None = None,
) -> Dependant:
    call = depends.dependency
    if call is None:
        call = strip_optional(annotation)  # `x: Annotated[Cls, Depends()]`
    scopes = list(security_scopes or [])
    if isinstance(depends, params.Security):
        scopes.extend(depends.scopes)
    sub = get_dependant(
        path=path, call=call, name=param_name, security_scopes=scopes, use_cache=depends.use_cache,
        scope=depends.scope,
    )
    security_base = _security_base()
    if security_base is not None and isinstance(call, security_base):
        own = depends.scopes if isinstance(depends, params.Security) else []
        sub.security_requirements.append(SecurityRequirement(security_scheme=call, scopes=scopes or own))
    return sub


def get_parameterless_sub_dependant(*, depends: params.Depends, path: str) -> Dependant:
    """The Dependant of a `dependencies=[Depends(...)]` entry (FastAPI's helper)."""
    if not callable(depends.dependency):
        raise AssertionError("A parameter-less dependency must have a callable dependency")
    return get_param_sub_dependant(param_name=None, depends=depends, annotation=None, path=path)


def get_flat_dependant(dependant: Dependant, *, skip_repeats: bool = False, visited: list[Any] | None = None) -> Dependant:
    """All parameters of a dependency tree in one Dependant (for OpenAPI and plan decisions)."""
    if visited is None:
        visited = []
    visited.append(dependant.cache_key)
    flat = Dependant(
        path_params=list(dependant.path_params),
        query_params=list(dependant.query_params),
        header_params=list(dependant.header_params),
        cookie_params=list(dependant.cookie_params),
        body_params=list(dependant.body_params),
        security_requirements=list(dependant.security_requirements),
        use_cache=dependant.use_cache,
        path=dependant.path,
    )
    for sub in dependant.dependencies:
        if skip_repeats and sub.cache_key in visited:
            continue
        sub_flat = get_flat_dependant(sub, skip_repeats=skip_repeats, visited=visited)
        flat.path_params.extend(sub_flat.path_params)
        flat.query_params.extend(sub_flat.query_params)
        flat.header_params.extend(sub_flat.header_params)
        flat.cookie_params.extend(sub_flat.cookie_params)
        flat.body_params.extend(sub_flat.body_params)
        flat.security_requirements.extend(sub_flat.security_requirements)
    return flat


def iter_dependants(dependant: Dependant):  # type: ignore[no-untyped-def]
    yield dependant
    for sub in dependant.dependencies:
        yield from iter_dependants(sub)


# ------------------------------------------------------------------------------------------ body


class BodyPlan:
    """How a route reads its body, decided at registration.

    kind: "none"; "single" (one field is the whole JSON body); "embed" (fields by name in a JSON
    object); "form" (fields by name in a urlencoded or multipart form).
    """

    __slots__ = ("kind", "fields", "single", "validate_json", "form_model", "form_limits")

    def __init__(self, body_params: list[ModelField], form_limits: Mapping[str, int] | None = None) -> None:
        self.fields = body_params
        self.form_limits = form_limits  # the route's `form_limits` (merged over its routers')
        self.single: ModelField | None = None
        self.validate_json = None
        self.form_model: ModelField | None = None
        if not body_params:
            self.kind = "none"
            return
        first = body_params[0]
        if any(isinstance(f.field_info, params.Form) for f in body_params):
            self.kind = "form"
            if len(body_params) == 1 and is_model_class(strip_optional(first.annotation)):
                self.form_model = first
            return
        embed = getattr(first.field_info, "embed", None)
        if len(body_params) == 1 and not embed:
            self.kind = "single"
            self.single = first
            model = strip_optional(first.annotation)
            if is_model_class(model) and first.annotation is model and first.required:
                # JSON straight into the model, skipping json.loads; errors take the exact path.
                self.validate_json = model.__pydantic_validator__.validate_json
            return
        self.kind = "embed"


def _should_embed_body_fields(body_params: list[ModelField]) -> bool:
    if not body_params:
        return False
    if len({f.name for f in body_params}) > 1:
        return True
    first = body_params[0]
    # Dependencies can use the same parameter name for different form models.
    if first.form_models and any(not f.form_models or f.annotation is not first.annotation for f in body_params[1:]):
        return True
    if getattr(first.field_info, "embed", None):
        return True
    return isinstance(first.field_info, params.Form) and not first.form_models


def get_body_field(*, flat_dependant: Dependant, name: str) -> ModelField | None:
    """The route's body as one field, as FastAPI builds it for OpenAPI (`Body_<name>` models)."""
    body_params = flat_dependant.body_params
    return _get_body_field(
        body_params=body_params, name=name, embed_body_fields=_should_embed_body_fields(body_params)
    )


def _get_flat_body_params(dependant: Dependant) -> list[ModelField]:
    """Every body parameter of a dependency tree, depth first (FastAPI's private helper, which
    fastapi-pagination imports to rebuild `route.body_field` after adding a dependency)."""
    body_params: list[ModelField] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        body_params.extend(current.body_params)
        stack.extend(reversed(current.dependencies))
    return body_params


def _get_body_field(*, body_params: list[ModelField], name: str, embed_body_fields: bool) -> ModelField | None:
    """FastAPI's `_get_body_field`: the body parameters as the route's one `body_field` (the first
    parameter itself, or a `Body_<name>` model of them when they are embedded)."""
    if not body_params:
        return None
    first = body_params[0]
    embed = embed_body_fields
    has_nullable_form_model = any(
        f.form_models and type(None) in get_args(strip_annotated(f.annotation)) for f in body_params
    )
    if not embed and not has_nullable_form_model:
        return first
    model_name = "Body_" + name
    fields: dict[str, Any] = {}
    config: Any = None
    with_form_models = any(f.form_models for f in body_params)
    for index, f in enumerate(body_params):
        # Defaults given in the signature (`scope: Annotated[str, Form()] = ""`) are not on the
        # marker's FieldInfo: put them there so the property is documented and not required.
        info = copy.copy(f.field_info)
        if f.default is not Undefined and info.default_factory is None:
            info.default = f.default
        if not with_form_models:
            info.alias = None if f.alias == f.name else f.alias
            fields.setdefault(f.name, (f.annotation, info))
            continue
        # FastAPI's layout: one `field_<i>` per parameter, rewritten by _apply_form_body_schema.
        annotation = f.annotation
        models = f.form_models
        if models and len(models) == 1:
            model = models[0]
            wrapped = Annotated[
                model, GetPydanticSchema(get_pydantic_json_schema=functools.partial(_form_model_json_schema, model))
            ]
            annotation = wrapped if strip_annotated(f.annotation) is model else wrapped | None
        key = f"field_{index}"
        info.alias = info.validation_alias = info.serialization_alias = key
        info.alias_priority = 2
        info.title = info.title or f.name.replace("_", " ").title()
        fields[key] = (annotation, info)
    if with_form_models:
        config = {"json_schema_extra": functools.partial(_apply_form_body_schema, body_params)}
    try:
        body_model = create_model(model_name, __config__=config, **fields)  # type: ignore[call-overload]
    except Exception:
        return None
    if not embed:
        # A lone nullable form model: documented through the flattened body model.
        info = copy.copy(first.field_info)
        info.metadata = []
        info.discriminator = None
        return ModelField(first.name, info, body_model, alias=first.alias, default=first.default)
    required = any(f.required for f in body_params)
    if any(isinstance(f.field_info, params.File) for f in body_params):
        info_cls: type[params.Body] = params.File
    elif any(isinstance(f.field_info, params.Form) for f in body_params):
        info_cls = params.Form
    else:
        info_cls = params.Body
    kwargs: dict[str, Any] = {}
    if info_cls is not params.File:
        media_types = [f.field_info.media_type for f in body_params if isinstance(f.field_info, info_cls)]
        if info_cls is params.Form and "multipart/form-data" in media_types:
            kwargs["media_type"] = "multipart/form-data"
        elif len(set(media_types)) == 1:
            kwargs["media_type"] = media_types[0]
    info = info_cls(Undefined if required else None, **kwargs)
    return ModelField(model_name, info, body_model, alias="body")


def _form_model_json_schema(model: type, core_schema: Any, handler: Any) -> dict[str, Any]:
    """A form model's schema with the form keys it is read by (when they differ from its own)."""
    schema = handler(core_schema)
    model_schema = handler.resolve_ref_schema(schema)
    properties = model_schema.get("properties", {})
    required = model_schema.get("required", [])
    aliases: dict[str, list[str]] = {}
    for (field_name, info), (keys, _) in zip(model.model_fields.items(), _model_form_fields(model)):
        validation_alias = info.validation_alias
        if isinstance(validation_alias, AliasChoices):
            schema_name: Any = validation_alias.choices[0]
        elif isinstance(validation_alias, str):
            schema_name = validation_alias
        else:
            schema_name = info.alias or field_name
        if (
            isinstance(schema_name, str)
            and schema_name in properties
            and (keys[0] != schema_name or (len(keys) > 1 and schema_name in required))
        ):
            aliases[schema_name] = keys
    if not aliases:
        return schema
    # Adjust only this form's names, leaving the shared model schema intact.
    model_schema = copy.deepcopy(model_schema)
    model_schema["properties"] = {aliases.get(n, [n])[0]: v for n, v in model_schema["properties"].items()}
    model_schema["required"] = []
    for n in required:
        names = aliases.get(n, [n])
        if len(names) == 1:
            model_schema["required"].append(names[0])
        else:
            model_schema.setdefault("allOf", []).append({"anyOf": [{"required": [name]} for name in names]})
    return model_schema


def _apply_form_body_schema(body_params: list[ModelField], schema: dict[str, Any]) -> None:
    """`Body_<name>` of a form with form models: plain fields as properties, each model as an
    `allOf` member (optional models: either absent or complete), as FastAPI documents it."""
    parameter_schemas = schema.pop("properties")
    schema.pop("required", None)
    properties: dict[str, Any] = {}
    required: list[str] = []
    conditions: list[dict[str, Any]] = []
    for index, param in enumerate(body_params):
        field_schema = parameter_schemas[f"field_{index}"]
        models = param.form_models
        if not models:
            alias = param.alias
            if alias in properties:
                conditions.append({"properties": {alias: field_schema}})
            else:
                properties[alias] = field_schema
            if param.required and alias not in required:
                required.append(alias)
            continue
        field_schema.pop("default", None)
        if type(None) in get_args(strip_annotated(param.annotation)):
            # A flat form group is omitted through absent fields, not a null body.
            field_schema["anyOf"] = [c for c in field_schema["anyOf"] if c.get("type") != "null"]
            if any(m.model_config.get("extra") in ("allow", "forbid") for m in models):
                absent: dict[str, Any] = {"maxProperties": 0}
            else:
                names = sorted({key for m in models for keys, _ in _model_form_fields(m) for key in keys})
                absent = {"not": {"anyOf": [{"required": [n]} for n in names]}} if names else {}
            if param.required:
                conditions.append({"not": absent})
            else:
                field_schema = {"anyOf": [absent, field_schema]}
        conditions.append(field_schema)
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = required
    schema["allOf"] = conditions


# ------------------------------------------------------------------------------ request context


class RequestContext:
    """Per-request state shared by the dependency tree; every view is computed on first use."""

    __slots__ = (
        "data", "path_params", "app", "_request", "_query", "_headers", "_cookies", "body", "body_read",
        "sub_response", "background", "stack", "cache", "strict_json",
    )

    def __init__(self, data: Any, path_params: dict[str, Any], app: Any, request: Request | None) -> None:
        self.data = data
        self.path_params = path_params
        self.app = app
        self._request = request
        self._query: QueryParams | None = None
        self._headers: Headers | None = None
        self._cookies: dict[str, str] | None = None
        self.body: Any = None
        self.body_read = False
        self.sub_response: Response | None = None
        self.background: BackgroundTasks | None = None
        self.stack: AsyncExitStack | None = None
        self.cache: dict[Any, Any] | None = None
        self.strict_json = True  # a missing Content-Type is not JSON (the route's strict_content_type)

    @property
    def request(self) -> Request:
        request = self._request
        if request is None:
            request = self._request = Request(self.data, self.path_params, self.app)
        elif request._path_params is not self.path_params:
            request._path_params = self.path_params
        return request

    @property
    def query(self) -> QueryParams:
        if self._query is None:
            self._query = self._request.query_params if self._request else QueryParams(self.data.query_string)
        return self._query

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(raw=self.data.headers)
        return self._headers

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            header = self.headers.get("cookie")
            self._cookies = cookie_parser(header) if header else {}
        return self._cookies

    def get_response(self) -> Response:
        if self.sub_response is None:
            response = Response.__new__(Response)
            response.status_code = None  # type: ignore[assignment]  # "not set": the route decides
            response.background = None
            response.body = b""
            response.raw_headers = []
            self.sub_response = response
        return self.sub_response

    def get_background(self) -> BackgroundTasks:
        if self.background is None:
            self.background = BackgroundTasks()
        return self.background

    def get_stack(self) -> AsyncExitStack:
        if self.stack is None:
            self.stack = AsyncExitStack()
        return self.stack


# ------------------------------------------------------------------------------------- solving


def _missing(loc: tuple[Any, ...]) -> dict[str, Any]:
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


def _params_from(
    fields: list[ModelField], source: Any, location: str, values: dict[str, Any], errors: list[Any]
) -> None:
    """Validate path/query/header/cookie fields from a multi-dict-like `source`."""
    multi = hasattr(source, "getlist")
    for field in fields:
        param_model = field.param_model
        if param_model is not None:
            _param_model_from(field, param_model, source, location, values, errors, multi)
            continue
        if field.is_sequence:
            raw: Any = source.getlist(field.alias) if multi else ([source[field.alias]] if field.alias in source else [])
            missing = not raw
        else:
            raw = source.get(field.alias)
            missing = raw is None
        if missing:
            if field.required:
                errors.append(_missing((location, field.alias)))
            else:
                values[field.name] = field.get_default()
            continue
        try:
            values[field.name] = field._validate_python(raw)
        except ValidationError as exc:
            errors.extend(regenerate_errors(exc.errors(include_url=False), (location, field.alias)))


def _param_model_from(
    field: ModelField,
    keys: list[tuple[str, str, bool]],
    source: Any,
    location: str,
    values: dict[str, Any],
    errors: list[Any],
    multi: bool,
) -> None:
    """`Annotated[Model, Query()]` (and Header/Cookie): the model's fields by their request keys,
    plus every other parameter so the model's `extra` policy applies, as FastAPI does."""
    data: dict[str, Any] = {}
    processed: set[str] = set()
    present = False
    renamed: dict[str, str] = {}  # model key -> request key (header names with dashes)
    is_header = location == "header"
    for request_key, model_key, is_sequence in keys:
        processed.add(request_key)
        if is_header and request_key != model_key.lower():
            processed.add(model_key.lower())  # the unconverted name is not an extra header
            renamed[model_key] = request_key
        if is_sequence and multi:
            found = source.getlist(request_key)
            if found:
                data[model_key] = found
                present = True
        else:
            found = source.get(request_key)
            if found is not None:
                data[model_key] = found
                present = True
    items = source.multi_items() if hasattr(source, "multi_items") else source.items()
    grouped: dict[str, list[Any]] = {}
    for key, value in items:
        if key not in processed:
            grouped.setdefault(key, []).append(value)
    for key, found in grouped.items():
        data.setdefault(key, found[0] if len(found) == 1 else found)
    model = strip_optional(field.annotation)
    if field.annotation is not model and not (
        present or (model.model_config.get("extra") in ("allow", "forbid") and data)
    ):
        # `Annotated[Model | None, Query()] = None` and none of its parameters given.
        if field.required:
            errors.append(_missing((location,)))
        else:
            values[field.name] = field.get_default()
        return
    try:
        values[field.name] = field._validate_python(data)
    except ValidationError as exc:
        new_errors = regenerate_errors(exc.errors(include_url=False), (location,))
        if renamed:
            for error in new_errors:
                loc = error["loc"]
                if len(loc) > 1 and loc[1] in renamed:
                    error["loc"] = (loc[0], renamed[loc[1]], *loc[2:])
        errors.extend(new_errors)


def _is_json_content_type(content_type: str | None, strict: bool = True) -> bool:
    if not content_type:
        return not strict
    main = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = main.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def read_json_body(ctx: RequestContext) -> Any:
    """FastAPI's body reading: JSON when the content type says so (or is absent), raw bytes otherwise."""
    if ctx.body_read:
        return ctx.body
    ctx.body_read = True
    raw = ctx.data.body
    if not raw:
        ctx.body = None
        return None
    content_type = ctx.headers.get("content-type")
    if _is_json_content_type(content_type, ctx.strict_json):
        try:
            ctx.body = json.loads(raw)
        except json.JSONDecodeError as exc:
            error = {
                "type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                "input": {}, "ctx": {"error": exc.msg},
            }
            raise RequestValidationError([error], body=exc.doc) from None
        except UnicodeDecodeError as exc:
            error = {
                "type": "json_invalid", "loc": ("body", exc.start), "msg": "JSON decode error",
                "input": {}, "ctx": {"error": str(exc.reason)},
            }
            raise RequestValidationError([error], body=raw) from None
        except Exception as exc:
            from ..exceptions import HTTPException

            raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
    else:
        ctx.body = raw
    return ctx.body


def _effective_form_limits(ctx: RequestContext, limits: Mapping[str, int] | None) -> Mapping[str, int]:
    """The app's `form_limits` under the route's (its own over those of the routers it went through)."""
    router = getattr(ctx.app, "router", None)
    app_limits = getattr(router, "form_limits", None)
    if app_limits:
        return {**app_limits, **limits} if limits else app_limits
    return limits or {}


def read_form_body(ctx: RequestContext, limits: Mapping[str, int] | None = None) -> FormData:
    if ctx.body_read:
        return ctx.body
    ctx.body_read = True
    request = ctx._request
    if request is not None and request._form is not None:
        ctx.body = request._form
        return ctx.body
    content_type = ctx.headers.get("content-type", "")
    try:
        form = parse_form_body(content_type, ctx.data.body, **_effective_form_limits(ctx, limits))
    except MultiPartException as exc:
        from ..exceptions import HTTPException

        raise HTTPException(status_code=400, detail=str(exc)) from None
    if request is not None:
        request._form = form
    ctx.body = form
    return form


def _body_from(plan: BodyPlan, ctx: RequestContext, values: dict[str, Any], errors: list[Any]) -> None:
    kind = plan.kind
    if kind == "single":
        field = plan.single
        assert field is not None
        if plan.validate_json is not None and not ctx.body_read:
            raw = ctx.data.body
            if raw and _is_json_content_type(ctx.headers.get("content-type"), ctx.strict_json):
                try:
                    values[field.name] = plan.validate_json(raw)
                    return
                except ValidationError:
                    pass  # take the general path for FastAPI's exact error list
        body = read_json_body(ctx)
        if body is None:
            if field.required:
                errors.append(_missing(("body",)))
            else:
                values[field.name] = field.get_default()
            return
        try:
            values[field.name] = field._validate_python(body)
        except ValidationError as exc:
            errors.extend(regenerate_errors(exc.errors(include_url=False), ("body",)))
        return
    if kind == "embed":
        body = read_json_body(ctx)
        source = body if isinstance(body, Mapping) else {}
        _named_body_fields(plan.fields, source, values, errors, form=False)
        return
    if kind == "form":
        _form_body_from(plan.fields, read_form_body(ctx, plan.form_limits), values, errors)


def _named_body_fields(
    fields: list[ModelField], source: Any, values: dict[str, Any], errors: list[Any], *, form: bool
) -> None:
    for field in fields:
        alias = field.alias
        if form and field.is_sequence:
            raw: Any = source.getlist(alias)
            missing = not raw
        else:
            raw = source.get(alias)
            missing = raw is None or (form and raw == "")
        if missing:
            if field.required:
                errors.append(_missing(("body", alias)))
            else:
                values[field.name] = field.get_default()
            continue
        if field.is_bytes_file:
            raw = _file_bytes(raw)
        try:
            values[field.name] = field._validate_python(raw)
        except ValidationError as exc:
            errors.extend(regenerate_errors(exc.errors(include_url=False), ("body", alias)))


def _file_bytes(raw: Any) -> Any:
    if isinstance(raw, UploadFile):
        raw.file.seek(0)
        return raw.file.read()
    if isinstance(raw, list):
        return [_file_bytes(item) for item in raw]
    return raw


# ------------------------------------------------------------------------------- form models
#
# As FastAPI 0.16x: a `Form()` parameter whose type is a model (or a union of models, optionally
# with `discriminator=`) reads its fields from the whole form, next to other form parameters and
# other form models; every form key reaches each model so its `extra` policy decides.


def _form_union_models(annotation: Any) -> list[type]:
    """`A | B [| None]` of models (two or more): the models; anything else: []."""
    if get_origin(annotation) not in (Union, UnionType):
        return []
    models = []
    for arg in get_args(annotation):
        if arg is type(None):
            continue
        arg = strip_annotated(arg)
        if not is_model_class(arg):
            return []
        models.append(arg)
    return models if len(models) > 1 else []  # `Model | None` is an ordinary form model


def _add_form_union_validators(annotation: Any) -> Any:
    choices: list[Any] = []
    for choice in get_args(annotation):
        if choice is type(None):
            choices.append(choice)
            continue
        model = choice
        metadata: tuple[Any, ...] = ()
        if get_origin(choice) is Annotated:
            model, *rest = get_args(choice)
            metadata = tuple(rest)
        validator = BeforeValidator(functools.partial(_normalize_form_model, model=model))
        # Keep existing discriminator tags or model names in union errors.
        tag = next((item for item in reversed(metadata) if isinstance(item, Tag)), Tag(model.__name__))
        choices.append(Annotated[choice, validator, tag])
    return Union[tuple(choices)]  # type: ignore[return-value]  # noqa: UP007


def _normalize_form_model(value: Any, *, model: type) -> Any:
    if isinstance(value, dict):
        # Repeated form values are read separately by each union branch.
        form = FormData(
            [(key, item) for key, items in value.items() for item in (items if isinstance(items, list) else [items])]
        )
        normalized = dict(_form_items(_model_form_fields(model), form))
        for key, item in value.items():
            if item is None or (isinstance(item, list) and not item):
                normalized[key] = item
        return normalized
    return value


def _form_models(annotation: Any, field_info: FieldInfo) -> list[type] | None:
    """The models a `Form()` parameter reads from the whole form, or None for a plain form field."""
    if not isinstance(field_info, params.Form) or getattr(field_info, "embed", None):
        return None
    if any(isinstance(item, Json) or item is Json for item in field_info.metadata):
        return None
    if get_origin(annotation) is Annotated and any(isinstance(item, Json) or item is Json for item in get_args(annotation)[1:]):
        return None
    model = strip_optional(annotation)
    if is_model_class(model):
        return [model]
    return _form_union_models(strip_annotated(annotation)) or None


_MODEL_FORM_FIELDS: dict[type, list[tuple[list[str], bool]]] = {}


def _model_form_fields(model: type) -> list[tuple[list[str], bool]]:
    """A model's fields as ([form keys in preference order], is_sequence)."""
    cached = _MODEL_FORM_FIELDS.get(model)
    if cached is not None:
        return cached
    config = model.model_config
    fields = []
    for name, info in model.model_fields.items():
        validation_alias = info.validation_alias
        if isinstance(validation_alias, AliasChoices):
            choices = validation_alias.choices
            keys = [c for c in choices] if all(isinstance(c, str) for c in choices) else [info.alias or name]
        elif isinstance(validation_alias, str):
            keys = [validation_alias]
        else:
            keys = [info.alias or name]
        if config.get("validate_by_alias") is False:
            keys = [name]
        elif config.get("validate_by_name", config.get("populate_by_name", False)) and name not in keys:
            keys.append(name)
        is_json = any(isinstance(item, Json) or item is Json for item in info.metadata)
        fields.append((keys, is_sequence_annotation(info.annotation) and not is_json))
    _MODEL_FORM_FIELDS[model] = fields
    return fields


def _is_empty_file_input(value: Any) -> bool:
    # Browsers send an empty filename and content when no file is selected.
    return isinstance(value, UploadFile) and value.filename == "" and value.size == 0


def _form_value(form: FormData, key: str, is_sequence: bool) -> Any:
    """The value under `key`, or Undefined when absent or empty (defaults apply at validation)."""
    if is_sequence:
        found = [item for item in form.getlist(key) if not _is_empty_file_input(item)]
        return found if found else Undefined
    value = form.get(key)
    if value is None or value == "" or _is_empty_file_input(value):
        return Undefined
    return value


def _form_items(fields: list[tuple[list[str], bool]], form: FormData) -> list[tuple[str, Any]]:
    """The fields' values by their first present key, then every other form key (grouped)."""
    items: list[tuple[str, Any]] = []
    known: set[str] = set()
    for keys, is_sequence in fields:
        for key in keys:
            known.add(key)
            value = _form_value(form, key, is_sequence)
            if value is not Undefined:
                items.append((key, value))
                break
    grouped: dict[str, list[Any]] = {}
    for key, value in form.multi_items():
        if key not in known:
            grouped.setdefault(key, []).append(value)
    items.extend((key, found[0] if len(found) == 1 else found) for key, found in grouped.items())
    return items


def _form_model_supplied(model: type, form: FormData) -> bool:
    own = {key for keys, _ in _model_form_fields(model) for key in keys}
    return bool(own.intersection(form) or (model.model_config.get("extra") in ("allow", "forbid") and len(form)))


def _form_model_value(field: ModelField, models: list[type], form: FormData) -> Any:
    annotation = strip_annotated(field.annotation)
    if type(None) in get_args(annotation) and not any(_form_model_supplied(m, form) for m in models):
        return Undefined
    # A union's branches each read the form from the original values (their validators).
    fields = _model_form_fields(models[0]) if len(models) == 1 else []
    return dict(_form_items(fields, form))


def _form_body_from(fields: list[ModelField], form: FormData, values: dict[str, Any], errors: list[Any]) -> None:
    for field in fields:
        models = field.form_models
        if models:
            value = _form_model_value(field, models, form)
            loc: tuple[Any, ...] = ("body",)
        else:
            value = _form_value(form, field.alias, field.is_sequence)
            loc = ("body", field.alias)
            if value is not Undefined and field.is_bytes_file:
                value = _file_bytes(value)
        if value is Undefined:
            if field.required:
                errors.append(_missing(loc))
            else:
                values[field.name] = field.get_default()
            continue
        try:
            values[field.name] = field._validate_python(value)
        except ValidationError as exc:
            errors.extend(regenerate_errors(exc.errors(include_url=False), loc))


def solve_params(ctx: RequestContext, dependant: Dependant, plan: BodyPlan | None, values: dict[str, Any], errors: list[Any]) -> None:
    """The dependant's own parameters (no sub-dependencies): synchronous, the request body is in memory."""
    if dependant.path_params:
        _params_from(dependant.path_params, ctx.path_params, "path", values, errors)
    if dependant.query_params:
        _params_from(dependant.query_params, ctx.query, "query", values, errors)
    if dependant.header_params:
        _params_from(dependant.header_params, ctx.headers, "header", values, errors)
    if dependant.cookie_params:
        _params_from(dependant.cookie_params, ctx.cookies, "cookie", values, errors)
    if plan is not None and plan.kind != "none":
        _body_from(plan, ctx, values, errors)
    if dependant.request_param_name is not None:
        values[dependant.request_param_name] = ctx.request
    if dependant.http_connection_param_name is not None:
        values[dependant.http_connection_param_name] = ctx.request
    if dependant.response_param_name is not None:
        values[dependant.response_param_name] = ctx.get_response()
    if dependant.background_tasks_param_name is not None:
        values[dependant.background_tasks_param_name] = ctx.get_background()
    if dependant.security_scopes_param_name is not None:
        values[dependant.security_scopes_param_name] = dependant.security_scopes_class(
            scopes=list(dependant.security_scopes or [])
        )


def body_plan_for(dependant: Dependant) -> BodyPlan | None:
    plan = getattr(dependant, "body_plan", None)
    if plan is None and dependant.body_params:
        plan = BodyPlan(dependant.body_params, getattr(dependant, "form_limits", None))
        dependant.body_plan = plan  # type: ignore[attr-defined]
    return plan


async def solve_dependencies(
    ctx: RequestContext,
    dependant: Dependant,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None,
    override_cache: dict[Any, Dependant] | None = None,
) -> tuple[dict[str, Any], list[Any]]:
    values: dict[str, Any] = {}
    errors: list[Any] = []
    for sub in dependant.dependencies:
        call = sub.call
        used = sub
        if overrides and call in overrides:
            used = _override_dependant(sub, overrides[call], override_cache)
        key = (used.call, tuple(sorted(set(sub.security_scopes or [])))) if sub.use_cache else None
        cache = ctx.cache
        if key is not None and cache is not None and key in cache:
            value = cache[key]
        else:
            sub_values, sub_errors = await solve_dependencies(ctx, used, overrides, override_cache)
            if sub_errors:
                errors.extend(sub_errors)
                continue
            value = await call_dependency(ctx, used, sub_values)
            if key is not None:
                cache = ctx.cache  # sub-dependencies may have created it meanwhile
                if cache is None:
                    cache = ctx.cache = {}
                cache[key] = value
        if sub.name is not None:
            values[sub.name] = value
    solve_params(ctx, dependant, body_plan_for(dependant), values, errors)
    return values, errors


async def call_dependency(ctx: RequestContext, dependant: Dependant, values: dict[str, Any]) -> Any:
    kind = dependant.call_kind
    call = dependant.call
    assert call is not None
    if kind == "async":
        return await call(**values)
    if kind == "sync":
        return call(**values)
    factory = dependant.cm_factory  # type: ignore[attr-defined]
    if kind == "asyncgen":
        return await ctx.get_stack().enter_async_context(factory(**values))
    return ctx.get_stack().enter_context(factory(**values))


def _override_dependant(
    original: Dependant, override: Callable[..., Any], cache: dict[Any, Dependant] | None
) -> Dependant:
    key = (override, original.path, tuple(original.security_scopes or []))
    if cache is not None and key in cache:
        return cache[key]
    dependant = get_dependant(
        path=original.path or "", call=override, name=original.name,
        security_scopes=original.security_scopes, use_cache=original.use_cache,
    )
    if cache is not None:
        cache[key] = dependant
    return dependant


def is_body_allowed_for_status_code(status_code: int | str | None) -> bool:
    if status_code is None:
        return True
    if status_code in {"default", "1XX", "2XX", "3XX", "4XX", "5XX"}:
        return True
    code = int(status_code)
    return not (code < 200 or code in {204, 205, 304})


def copy_field_info(field_info: FieldInfo) -> FieldInfo:
    return copy.copy(field_info)

