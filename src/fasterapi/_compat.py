"""`ModelField`: one validated value (a parameter, a body, a response) with its compiled validator.

Mirrors the parts of FastAPI's `fastapi._compat.ModelField` that routing and the OpenAPI generator
use: `name`, `alias`, `field_info`, `mode`, `required`, `default`, `type_`, `validate()`,
`serialize()`, `type_adapter`. The TypeAdapter is built once, at registration.
"""

from __future__ import annotations

import copy
import functools
from collections import deque
from collections.abc import Sequence
from dataclasses import is_dataclass
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.version import VERSION as PYDANTIC_VERSION
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

Undefined: Any = PydanticUndefined

PYDANTIC_VERSION_MINOR_TUPLE = tuple(int(x) for x in PYDANTIC_VERSION.split(".")[:2])
PYDANTIC_V2 = True

_SEQUENCE_ORIGINS = (list, set, tuple, frozenset, deque, Sequence)
_SEQUENCE_TYPES = (list, set, tuple, frozenset, deque)
_IMMUTABLE_DEFAULTS = (str, int, float, bool, bytes, type(None), Enum, tuple, frozenset)


def strip_annotated(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def strip_optional(annotation: Any) -> Any:
    annotation = strip_annotated(annotation)
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return strip_annotated(args[0])
    return annotation


def is_sequence_annotation(annotation: Any) -> bool:
    """list[int], Optional[list[str]], set[str], tuple[int, ...]: read with getlist()."""
    annotation = strip_annotated(annotation)
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(is_sequence_annotation(a) for a in get_args(annotation) if a is not type(None))
    if origin in _SEQUENCE_ORIGINS:
        return True
    return isinstance(annotation, type) and issubclass(annotation, _SEQUENCE_TYPES) and not issubclass(
        annotation, (str, bytes)
    )


def is_scalar_annotation(annotation: Any) -> bool:
    """True for values that come from a single string (query by default); False means body."""
    from .datastructures import UploadFile

    annotation = strip_annotated(annotation)
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return all(is_scalar_annotation(a) for a in get_args(annotation))
    if origin is Literal:
        return True
    if origin is not None:
        return origin not in (*_SEQUENCE_ORIGINS, dict) and not (
            isinstance(origin, type) and issubclass(origin, (BaseModel, dict, *_SEQUENCE_TYPES))
        )
    if annotation is Any or annotation is type(None):
        return True
    if isinstance(annotation, type):
        if issubclass(annotation, (str, bytes)):
            return True
        if issubclass(annotation, (BaseModel, dict, UploadFile, *_SEQUENCE_TYPES)) or is_dataclass(annotation):
            return False
    return True


def is_model_class(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def lenient_issubclass(cls: Any, class_or_tuple: Any) -> bool:
    """`issubclass` that is False for anything that is not a class (FastAPI's helper, which
    third-party code imports from `fastapi._compat` / `fastapi.dependencies.utils`)."""
    try:
        return isinstance(cls, type) and issubclass(cls, class_or_tuple)
    except TypeError:  # a parametrized generic (`list[int]`) passes isinstance(type)
        if get_origin(cls) is not None:
            return False
        raise


def regenerate_errors(errors: Sequence[Any], loc: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [{**err, "loc": loc + tuple(err["loc"])} for err in errors]


class ModelField:
    """A named, typed value with a pydantic validator compiled once."""

    def __init__(
        self,
        name: str,
        field_info: FieldInfo,
        annotation: Any,
        *,
        alias: str | None = None,
        default: Any = Undefined,
        mode: Literal["validation", "serialization"] = "validation",
    ) -> None:
        self.name = name
        self.field_info = field_info
        self.annotation = annotation
        self.mode = mode
        self.alias = alias if alias is not None else (field_info.alias or name)
        self.validation_alias = self.alias
        self.serialization_alias = self.alias
        if default is Undefined:
            default = field_info.default
        self.default = default
        self.default_factory = field_info.default_factory
        self.required = default is Undefined and self.default_factory is None
        self.is_sequence = is_sequence_annotation(annotation)
        # Mutable defaults are copied per request (FastAPI deep-copies them).
        self._copy_default = not isinstance(default, _IMMUTABLE_DEFAULTS)
        metadata = list(field_info.metadata)
        discriminator = getattr(field_info, "discriminator", None)
        if discriminator is not None:
            # `Body(discriminator=...)`/`Form(discriminator=...)`: a FieldInfo attribute, not metadata.
            from pydantic import Field

            metadata.append(Field(discriminator=discriminator))
        validated = Annotated[(annotation, *metadata)] if metadata else annotation  # type: ignore[misc]
        self._adapter = TypeAdapter(validated)
        # The core validator directly: TypeAdapter.validate_python adds a Python-level call.
        validator = getattr(self._adapter, "validator", None)
        validate = getattr(validator, "validate_python", None) or self._adapter.validate_python
        if is_scalar_annotation(annotation):
            self._validate_python = validate
        else:
            # FastAPI validates with from_attributes=True (objects, not only dicts, fill models).
            self._validate_python = functools.partial(validate, from_attributes=True)
        self._full_adapter: TypeAdapter[Any] | None = None

    # FastAPI names used by the OpenAPI generator.
    @property
    def type_(self) -> Any:
        return self.annotation

    @property
    def type_adapter(self) -> TypeAdapter[Any]:
        """The adapter for JSON schema generation: annotation plus every FieldInfo attribute, and
        the default even when it was given in the signature (`x: Annotated[int, Query()] = 0`),
        where the marker's FieldInfo does not hold it (FastAPI documents it)."""
        if self._full_adapter is None:
            info = copy.copy(self.field_info)
            info.annotation = self.annotation
            if self.default is not Undefined and info.default_factory is None:
                info.default = self.default
            self._full_adapter = TypeAdapter(Annotated[self.annotation, info])
        return self._full_adapter

    def get_default(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        if self._copy_default:
            return copy.deepcopy(self.default)
        return self.default

    def validate(
        self, value: Any, values: dict[str, Any] | None = None, *, loc: tuple[Any, ...] = ()
    ) -> tuple[Any, list[dict[str, Any]] | None]:
        try:
            return self._validate_python(value), None
        except ValidationError as exc:
            return None, regenerate_errors(exc.errors(include_url=False), loc)

    def validate_response(self, value: Any, *, loc: tuple[Any, ...] = ("response",)) -> tuple[Any, Any]:
        try:
            return self._validate_python(value, from_attributes=True), None
        except ValidationError as exc:
            return None, regenerate_errors(exc.errors(include_url=False), loc)

    def serialize(
        self,
        value: Any,
        *,
        mode: Literal["json", "python"] = "json",
        include: Any = None,
        exclude: Any = None,
        by_alias: bool = True,
        exclude_unset: bool = False,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
    ) -> Any:
        return self._adapter.dump_python(
            value,
            mode=mode,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
        )

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"ModelField(name={self.name!r}, annotation={self.annotation!r}, required={self.required})"
