"""The OpenAPI 3.1 document of an app, built from its routes the way FastAPI documents it.

Schemas come from pydantic: every field the document mentions (parameters, bodies, response
models, `responses=` models) is fed to one `GenerateJsonSchema.generate_definitions` call, so
shared models become `components/schemas` entries referenced with `#/components/schemas/{model}`,
and a model whose validation and serialization schemas differ gets pydantic's `-Input`/`-Output`
names (FastAPI's `separate_input_output_schemas`).

The generator only reads route attributes with FastAPI's names (`path_format`, `methods`,
`dependant`, `body_field`, `response_field`, `response_fields`, `unique_id`, ...), so routes
from `fasterapi.routing` and look-alikes work the same.
"""

from __future__ import annotations

import copy
import http.client
import inspect
import re
import warnings
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

from .. import params
from .._compat import ModelField, Undefined, is_model_class, strip_optional
from ..dependencies.models import Dependant
from ..dependencies.utils import get_flat_dependant, is_body_allowed_for_status_code
from ..encoders import jsonable_encoder
from .constants import METHODS_WITH_BODY, REF_PREFIX, REF_TEMPLATE

# The 422 schemas FastAPI adds whenever an operation can fail validation. ValidationError lists
# pydantic v2's optional "input" and "ctx" members, as current FastAPI does.
VALIDATION_ERROR_DEFINITION: dict[str, Any] = {
    "properties": {
        "loc": {
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "type": "array",
            "title": "Location",
        },
        "msg": {"type": "string", "title": "Message"},
        "type": {"type": "string", "title": "Error Type"},
        "input": {"title": "Input"},
        "ctx": {"type": "object", "title": "Context"},
    },
    "type": "object",
    "required": ["loc", "msg", "type"],
    "title": "ValidationError",
}

VALIDATION_ERROR_RESPONSE_DEFINITION: dict[str, Any] = {
    "properties": {
        "detail": {
            "items": {"$ref": REF_PREFIX + "ValidationError"},
            "type": "array",
            "title": "Detail",
        }
    },
    "type": "object",
    "title": "HTTPValidationError",
}

STATUS_CODE_RANGES = {
    "1XX": "Information",
    "2XX": "Success",
    "3XX": "Redirection",
    "4XX": "Client Error",
    "5XX": "Server Error",
    "DEFAULT": "Default Response",
}

_PARAM_LOCATIONS = (
    ("path_params", "path"),
    ("query_params", "query"),
    ("header_params", "header"),
    ("cookie_params", "cookie"),
)


# ------------------------------------------------------------------------------------- helpers


def deep_dict_update(main_dict: dict[Any, Any], update_dict: dict[Any, Any]) -> None:
    """Merge `update_dict` into `main_dict`: dicts recursively, lists concatenated, others replaced."""
    for key, value in update_dict.items():
        current = main_dict.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            deep_dict_update(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            main_dict[key] = current + value
        else:
            main_dict[key] = value


def _route_kind(route: Any) -> bool:
    """True for path operations (APIRoute-like objects); Starlette-style routes and mounts are skipped."""
    return hasattr(route, "dependant") and hasattr(route, "unique_id") and getattr(route, "methods", None)


def _response_class(route: Any) -> Any:
    response_class = getattr(route, "_response_class", None) or route.response_class
    return getattr(response_class, "value", response_class)  # a DefaultPlaceholder


def _is_json_response_class(cls: Any) -> bool:
    from ..responses import JSONResponse

    return inspect.isclass(cls) and issubclass(cls, JSONResponse)


def _default_status_code(route: Any) -> str:
    if route.status_code is not None:
        return str(route.status_code)
    # Like FastAPI: the response class's own default (RedirectResponse: 307), else 200.
    try:
        parameter = inspect.signature(_response_class(route).__init__).parameters.get("status_code")
    except (TypeError, ValueError):
        parameter = None
    if parameter is not None and isinstance(parameter.default, int):
        return str(parameter.default)
    return "200"


def _field_title(field: ModelField) -> str:
    return field.field_info.title or getattr(field, "openapi_title", None) or field.alias.title().replace("_", " ")


def _flat_param_fields(fields: Iterable[ModelField]) -> list[ModelField]:
    """Parameters as documented: `Annotated[Model, Query()]` becomes one parameter per model field."""
    result: list[ModelField] = []
    for field in fields:
        model = strip_optional(field.annotation)
        if getattr(field, "param_model", None) is not None and is_model_class(model):
            result.extend(_param_model_fields(field, model))
        else:
            result.append(field)
    return result


_param_model_cache: dict[tuple[int, type], list[ModelField]] = {}


def _param_model_fields(field: ModelField, model: type) -> list[ModelField]:
    key = (id(field), model)
    cached = _param_model_cache.get(key)
    if cached is not None:
        return cached
    outer = field.field_info
    optional = not field.required or strip_optional(field.annotation) is not field.annotation
    fields = []
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        alias = info.alias or name
        if isinstance(outer, params.Header) and outer.convert_underscores and not info.alias:
            alias = name.replace("_", "-")
        # Keep the outer marker's location, the inner field's metadata.
        marker = type(outer)(info.default if info.default is not Undefined else Undefined)
        for attr in ("title", "description", "examples", "deprecated", "json_schema_extra", "default_factory"):
            setattr(marker, attr, getattr(info, attr))
        marker.metadata = list(info.metadata)
        marker.include_in_schema = getattr(outer, "include_in_schema", True)
        sub = ModelField(name, marker, info.annotation, alias=alias, default=info.default)
        sub.openapi_title = (info.alias or name).title().replace("_", " ")  # not the header name
        if optional:
            sub.required = False  # `Annotated[Model | None, Query()] = None`: nothing is required
        fields.append(sub)
    _param_model_cache[key] = fields
    return fields


# ------------------------------------------------------------------------------------- schemas


class _UnsortedGenerateJsonSchema(GenerateJsonSchema):
    """Keeps keys in generation order instead of pydantic's alphabetical sort, as FastAPI's
    documents do (so the JSON text, not only the parsed value, matches)."""

    def sort(self, value: JsonSchemaValue, parent_key: str | None = None) -> JsonSchemaValue:
        return value

    def bytes_schema(self, schema: Any) -> JsonSchemaValue:
        # Binary strings the OpenAPI 3.1 way, as FastAPI writes them (not 3.0's `format: binary`);
        # base64 when the model's config says so (`val_json_bytes`/`ser_json_bytes`).
        json_schema: dict[str, Any] = {"type": "string", "contentMediaType": "application/octet-stream"}
        mode = self._config.ser_json_bytes if self.mode == "serialization" else self._config.val_json_bytes
        if mode == "base64":
            json_schema["contentEncoding"] = "base64"
        self.update_with_validations(json_schema, schema, self.ValidationsMapping.bytes)
        return json_schema


class _FieldSchemas:
    """Every field's JSON schema, generated in one pass so models are shared through $refs."""

    def __init__(self, fields: list[tuple[ModelField, str]], generator: type[GenerateJsonSchema]) -> None:
        self._keys: dict[tuple[int, str], int] = {}
        inputs = []
        seen: set[tuple[int, str]] = set()
        for field, mode in fields:
            key = (id(field), mode)
            if key in seen:
                continue
            seen.add(key)
            inputs.append((key, mode, field.type_adapter.core_schema))
        schema_generator = generator(by_alias=True, ref_template=REF_TEMPLATE)
        self.mapping: dict[Any, JsonSchemaValue]
        mapping, definitions = schema_generator.generate_definitions(inputs=inputs)  # type: ignore[arg-type]
        self.mapping = mapping
        self.definitions: dict[str, Any] = dict(definitions)

    def schema(self, field: ModelField, mode: str) -> dict[str, Any]:
        json_schema = dict(self.mapping[((id(field), mode), mode)])
        if "$ref" not in json_schema:
            # FastAPI titles every inline field schema after the field, not the type.
            json_schema["title"] = _field_title(field)
        return json_schema


def _collect_fields(routes: Sequence[Any], separate_io: bool) -> list[tuple[ModelField, str]]:
    output_mode = "serialization" if separate_io else "validation"
    fields: list[tuple[ModelField, str]] = []
    for route in routes:
        flat = get_flat_dependant(route.dependant, skip_repeats=True)
        for attr, _ in _PARAM_LOCATIONS:
            fields.extend((f, "validation") for f in _flat_param_fields(getattr(flat, attr)))
        body_field = getattr(route, "body_field", None)
        if body_field is not None:
            fields.append((body_field, "validation"))
        response_field = getattr(route, "response_field", None)
        if response_field is not None:
            fields.append((response_field, output_mode))
        for field in (getattr(route, "response_fields", None) or {}).values():
            fields.append((field, output_mode))
        stream_field = getattr(route, "stream_item_field", None)
        if stream_field is not None:
            fields.append((stream_field, output_mode))
        fields.extend(_collect_fields(_callback_routes(route), separate_io))
    return fields


def _callback_routes(route: Any) -> list[Any]:
    return [cb for cb in (getattr(route, "callbacks", None) or []) if _route_kind(cb)]


# ------------------------------------------------------------------------------------ operations


class _Builder:
    def __init__(self, schemas: _FieldSchemas, separate_io: bool) -> None:
        self.schemas = schemas
        self.output_mode = "serialization" if separate_io else "validation"
        self.definitions: dict[str, Any] = {}
        self.security_schemes: dict[str, Any] = {}
        self.operation_ids: set[str] = set()

    # ---- parameters

    def parameters(self, flat: Dependant) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        for attr, location in _PARAM_LOCATIONS:
            for field in _flat_param_fields(getattr(flat, attr)):
                info = field.field_info
                if not getattr(info, "include_in_schema", True):
                    continue
                parameter: dict[str, Any] = {"name": field.alias, "in": location, "required": field.required}
                parameter["schema"] = self.schemas.schema(field, "validation")
                if info.description:
                    parameter["description"] = info.description
                openapi_examples = getattr(info, "openapi_examples", None)
                example = getattr(info, "example", Undefined)
                if openapi_examples:
                    parameter["examples"] = jsonable_encoder(openapi_examples)
                elif example is not Undefined:
                    parameter["example"] = jsonable_encoder(example)
                if getattr(info, "deprecated", None):
                    parameter["deprecated"] = True
                result.append(parameter)
        return result

    # ---- request body

    def request_body(self, route: Any) -> dict[str, Any] | None:
        body_field = getattr(route, "body_field", None)
        if body_field is None:
            return None
        info = body_field.field_info
        media_type = getattr(info, "media_type", None) or "application/json"
        media: dict[str, Any] = {"schema": self.schemas.schema(body_field, "validation")}
        openapi_examples = getattr(info, "openapi_examples", None)
        example = getattr(info, "example", Undefined)
        if openapi_examples:
            media["examples"] = jsonable_encoder(openapi_examples)
        elif example is not Undefined:
            media["example"] = jsonable_encoder(example)
        body: dict[str, Any] = {}
        if body_field.required:
            body["required"] = True
        body["content"] = {media_type: media}
        return body

    # ---- the operation

    def operation(self, route: Any, method: str) -> dict[str, Any]:
        operation: dict[str, Any] = {}
        if route.tags:
            operation["tags"] = [t.value if isinstance(t, Enum) else t for t in route.tags]
        operation["summary"] = route.summary or route.name.replace("_", " ").title()
        if route.description:
            operation["description"] = route.description
        operation_id = route.operation_id or route.unique_id
        if operation_id in self.operation_ids:
            message = f"Duplicate Operation ID {operation_id} for function {route.endpoint.__name__}"
            file_name = getattr(route.endpoint, "__globals__", {}).get("__file__")
            if file_name:
                message += f" at {file_name}"
            warnings.warn(message, stacklevel=1)
        self.operation_ids.add(operation_id)
        operation["operationId"] = operation_id
        if route.deprecated:
            operation["deprecated"] = route.deprecated
        return operation

    def path_item(self, route: Any) -> dict[str, Any]:
        item: dict[str, Any] = {}
        flat = get_flat_dependant(route.dependant, skip_repeats=True)
        response_class = _response_class(route)
        media_type = getattr(response_class, "media_type", None)
        for method in _ordered_methods(route.methods):
            operation = self.operation(route, method)
            security = self.security(flat)
            if security:
                operation["security"] = security
            parameters = self._unique_parameters(self.parameters(flat))
            if parameters:
                operation["parameters"] = parameters
            extra = route.openapi_extra or {}
            if method in METHODS_WITH_BODY:
                body = self.request_body(route)
                if body:
                    operation["requestBody"] = body
                elif "requestBody" in extra:
                    operation["requestBody"] = {}  # keeps FastAPI's key order once merged below
            callbacks = self.callbacks(route)
            if callbacks:
                operation["callbacks"] = callbacks
            status_code = _default_status_code(route)
            responses = operation.setdefault("responses", {})
            responses.setdefault(status_code, {})["description"] = route.response_description
            stream_field = getattr(route, "stream_item_field", None)
            if not is_body_allowed_for_status_code(route.status_code):
                pass
            elif getattr(route, "is_json_stream", False):
                item_schema = self.schemas.schema(stream_field, self.output_mode) if stream_field else {}
                responses[status_code].setdefault("content", {})["application/jsonl"] = {"itemSchema": item_schema}
            elif getattr(route, "is_sse_stream", False):
                from ..sse import _SSE_EVENT_SCHEMA

                event_schema = copy.deepcopy(_SSE_EVENT_SCHEMA)
                if stream_field is not None:
                    event_schema["required"] = ["data"]
                    event_schema["properties"]["data"] = {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": self.schemas.schema(stream_field, self.output_mode),
                    }
                responses[status_code].setdefault("content", {})["text/event-stream"] = {"itemSchema": event_schema}
            elif media_type:
                schema: dict[str, Any] = {"type": "string"}
                if _is_json_response_class(response_class):
                    response_field = getattr(route, "response_field", None)
                    schema = self.schemas.schema(response_field, self.output_mode) if response_field else {}
                responses[status_code].setdefault("content", {}).setdefault(media_type, {})["schema"] = schema
            self.additional_responses(route, responses, media_type)
            if (flat.path_params or flat.query_params or flat.header_params or flat.cookie_params
                    or getattr(route, "body_field", None)) and not any(
                key in responses for key in ("422", "4XX", "default")
            ):
                responses["422"] = {
                    "description": "Validation Error",
                    "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "HTTPValidationError"}}},
                }
                self.definitions.setdefault("ValidationError", VALIDATION_ERROR_DEFINITION)
                self.definitions.setdefault("HTTPValidationError", VALIDATION_ERROR_RESPONSE_DEFINITION)
            if route.openapi_extra:
                deep_dict_update(operation, route.openapi_extra)
            item[method.lower()] = operation
        return item

    def additional_responses(self, route: Any, responses: dict[str, Any], media_type: str | None) -> None:
        fields = getattr(route, "response_fields", None) or {}
        for status, response in (route.responses or {}).items():
            extra = {k: v for k, v in response.items() if k != "model"}
            key = str(status).upper()
            if key == "DEFAULT":
                key = "default"
            entry = responses.setdefault(key, {})
            field = fields.get(status)
            if field is not None:
                schema = self.schemas.schema(field, self.output_mode)
                content = extra.setdefault("content", {})
                target = content.setdefault(media_type or "application/json", {}).setdefault("schema", {})
                deep_dict_update(target, schema)
            try:
                status_text = STATUS_CODE_RANGES.get(key.upper()) or http.client.responses.get(int(status))
            except ValueError:
                status_text = None
            description = extra.get("description") or entry.get("description") or status_text or "Additional Response"
            deep_dict_update(entry, extra)
            entry["description"] = description

    def callbacks(self, route: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for callback in _callback_routes(route):
            result[callback.name] = {callback.path: self.path_item(callback)}
        return result

    def security(self, flat: Dependant) -> list[dict[str, list[str]]]:
        # One requirement per scheme, scopes merged in first-seen order, as FastAPI emits them.
        by_name: dict[str, list[str]] = {}
        for requirement in flat.security_requirements:
            scheme = requirement.security_scheme
            name = scheme.scheme_name
            self.security_schemes[name] = jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
            scopes = by_name.setdefault(name, [])
            for scope in requirement.scopes or []:
                if scope not in scopes:
                    scopes.append(scope)
        return [{name: scopes} for name, scopes in by_name.items()]

    @staticmethod
    def _unique_parameters(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A parameter declared twice (by two dependencies) is documented once; a required
        # declaration wins over an optional one.
        unique: dict[tuple[str, str], dict[str, Any]] = {}
        for parameter in parameters:
            key = (parameter["in"], parameter["name"])
            if key not in unique or (parameter.get("required") and not unique[key].get("required")):
                unique[key] = parameter
        return list(unique.values())


_METHOD_ORDER = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")


def _ordered_methods(methods: Iterable[str]) -> list[str]:
    # Path Item Object field order, so the document is stable whatever the set's order.
    ordered = sorted(methods, key=lambda m: _METHOD_ORDER.index(m) if m in _METHOD_ORDER else len(_METHOD_ORDER))
    return ordered


# ---------------------------------------------------------------------------------- key order

# JSON Schema keywords in the order FastAPI's documents list them (its schema object's field
# order); unknown keys follow in their original order. Only the text of the document depends
# on this, never its parsed value.
_SCHEMA_KEY_ORDER = {
    key: index
    for index, key in enumerate(
        (
            "$schema", "$vocabulary", "$id", "$anchor", "$dynamicAnchor", "$ref", "$dynamicRef", "$defs",
            "$comment", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas",
            "prefixItems", "items", "contains", "properties", "patternProperties", "additionalProperties",
            "propertyNames", "unevaluatedItems", "unevaluatedProperties", "type", "enum", "const",
            "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength",
            "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
            "maxProperties", "minProperties", "required", "dependentRequired", "format", "contentEncoding",
            "contentMediaType", "contentSchema", "title", "description", "default", "deprecated", "readOnly",
            "writeOnly", "examples", "discriminator", "xml", "externalDocs", "example",
        )
    )
}
_SUBSCHEMA_KEYS = frozenset(
    ("not", "if", "then", "else", "items", "contains", "additionalProperties", "propertyNames",
     "unevaluatedItems", "unevaluatedProperties", "contentSchema")
)
_SUBSCHEMA_LIST_KEYS = frozenset(("allOf", "anyOf", "oneOf", "prefixItems"))
_SUBSCHEMA_MAP_KEYS = frozenset(("$defs", "properties", "patternProperties", "dependentSchemas"))
# Numeric bounds are floats in FastAPI's schema object: `gt=0` is written `0.0`.
_FLOAT_KEYS = frozenset(("multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"))


def _order_schema(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    known = sorted((k for k in schema if k in _SCHEMA_KEY_ORDER), key=_SCHEMA_KEY_ORDER.__getitem__)
    ordered: dict[str, Any] = {}
    for key in [*known, *(k for k in schema if k not in _SCHEMA_KEY_ORDER)]:
        value = schema[key]
        if key in _SUBSCHEMA_KEYS:
            value = _order_schema(value)
        elif key in _SUBSCHEMA_LIST_KEYS and isinstance(value, list):
            value = [_order_schema(v) for v in value]
        elif key in _SUBSCHEMA_MAP_KEYS and isinstance(value, dict):
            value = {k: _order_schema(v) for k, v in value.items()}
        elif key in _FLOAT_KEYS and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ordered[key] = value
    return ordered


def _key_order(order: Sequence[str]) -> Any:
    index = {key: i for i, key in enumerate(order)}

    def reorder(obj: dict[str, Any]) -> dict[str, Any]:
        known = sorted((k for k in obj if k in index), key=index.__getitem__)
        return {k: obj[k] for k in [*known, *(k for k in obj if k not in index)]}

    return reorder


_order_operation = _key_order(
    ("tags", "summary", "description", "externalDocs", "operationId", "parameters", "requestBody", "responses",
     "callbacks", "deprecated", "security", "servers")
)
_order_request_body = _key_order(("description", "content", "required"))
_order_response = _key_order(("description", "headers", "content", "links"))
_order_media = _key_order(("schema", "example", "examples", "encoding"))


def _has_parameters(path_item: dict[str, Any]) -> bool:
    for operation in path_item.values():
        if not isinstance(operation, dict):
            continue
        if "parameters" in operation:
            return True
        for callback in (operation.get("callbacks") or {}).values():
            if isinstance(callback, dict) and any(_has_parameters(i) for i in callback.values() if isinstance(i, dict)):
                return True
    return False


def _order_content(content: Any) -> Any:
    if not isinstance(content, dict):
        return content
    result = {}
    for media_type, media in content.items():
        if isinstance(media, dict):
            media = _order_media(media)
            if "schema" in media:
                media["schema"] = _order_schema(media["schema"])
        result[media_type] = media
    return result


def _normalize_path_item(path_item: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's key order and number types for one path item.

    FastAPI re-validates each path item through its OpenAPI object models, which reorders keys to
    the models' field order and writes numeric schema bounds as floats; a path item with any
    parameter is passed through as built instead (observed with FastAPI 0.165). Only the JSON
    text depends on this: the parsed document is the same either way.
    """
    if _has_parameters(path_item):
        return path_item
    result: dict[str, Any] = {}
    for method, operation in path_item.items():
        if not isinstance(operation, dict):
            result[method] = operation
            continue
        operation = _order_operation(operation)
        body = operation.get("requestBody")
        if isinstance(body, dict):
            body = _order_request_body(body)
            if "content" in body:
                body["content"] = _order_content(body["content"])
            operation["requestBody"] = body
        responses = operation.get("responses")
        if isinstance(responses, dict):
            operation["responses"] = {
                code: _order_response({**r, "content": _order_content(r["content"])} if "content" in r else r)
                if isinstance(r, dict) else r
                for code, r in responses.items()
            }
        callbacks = operation.get("callbacks")
        if isinstance(callbacks, dict):
            operation["callbacks"] = {
                name: {expr: _normalize_path_item(item) for expr, item in cb.items()} if isinstance(cb, dict) else cb
                for name, cb in callbacks.items()
            }
        result[method] = operation
    return result


# ------------------------------------------------------------------------------------- document


def _drop_none(value: Any) -> Any:
    """FastAPI serializes the document with exclude_none: no key anywhere has a null value."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def get_openapi(
    *,
    title: str,
    version: str,
    openapi_version: str = "3.1.0",
    summary: str | None = None,
    description: str | None = None,
    routes: Sequence[Any],
    webhooks: Sequence[Any] | None = None,
    tags: list[dict[str, Any]] | None = None,
    servers: list[dict[str, Any]] | None = None,
    terms_of_service: str | None = None,
    contact: dict[str, Any] | None = None,
    license_info: dict[str, Any] | None = None,
    separate_input_output_schemas: bool = True,
    external_docs: dict[str, Any] | None = None,
    schema_generator: type[GenerateJsonSchema] = _UnsortedGenerateJsonSchema,
) -> dict[str, Any]:
    info: dict[str, Any] = {"title": title}
    if summary:
        info["summary"] = summary
    if description:
        info["description"] = description
    if terms_of_service:
        info["termsOfService"] = terms_of_service
    if contact:
        info["contact"] = contact
    if license_info:
        info["license"] = license_info
    info["version"] = version
    output: dict[str, Any] = {"openapi": openapi_version, "info": info}
    if servers:
        output["servers"] = servers

    api_routes = [r for r in routes if _route_kind(r) and r.include_in_schema]
    webhook_routes = [r for r in (webhooks or []) if _route_kind(r) and r.include_in_schema]
    fields = _collect_fields([*api_routes, *webhook_routes], separate_input_output_schemas)
    schemas = _FieldSchemas(fields, schema_generator)
    builder = _Builder(schemas, separate_input_output_schemas)

    paths: dict[str, Any] = {}
    for route in api_routes:
        item = builder.path_item(route)
        if item:
            paths.setdefault(route.path_format, {}).update(item)
    webhook_paths: dict[str, Any] = {}
    for route in webhook_routes:
        item = builder.path_item(route)
        if item:
            webhook_paths.setdefault(route.path_format, {}).update(item)

    paths = {path: _normalize_path_item(item) for path, item in paths.items()}
    webhook_paths = {path: _normalize_path_item(item) for path, item in webhook_paths.items()}
    definitions = {name: _order_schema(schema) for name, schema in {**schemas.definitions, **builder.definitions}.items()}
    output["paths"] = paths
    if webhook_paths:
        output["webhooks"] = webhook_paths
    components: dict[str, Any] = {}
    if definitions:
        components["schemas"] = {name: definitions[name] for name in sorted(definitions)}
    if builder.security_schemes:
        components["securitySchemes"] = builder.security_schemes
    if components:
        output["components"] = components
    if tags:
        output["tags"] = tags
    if external_docs:
        output["externalDocs"] = external_docs
    return _drop_none(jsonable_encoder(output, by_alias=True))
