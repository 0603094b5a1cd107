"""Parameter declarations (`Query()`, `Body()`, `Depends()`...) as pydantic FieldInfo subclasses.

Subclassing FieldInfo lets constraints (gt, max_length, pattern...) become pydantic metadata that the
per-parameter validators compiled at registration apply, and lets the OpenAPI generator read
title/description/examples the way FastAPI's does.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

Undefined: Any = PydanticUndefined
_Unset: Any = PydanticUndefined


class ParamTypes(Enum):
    query = "query"
    header = "header"
    path = "path"
    cookie = "cookie"


# FieldInfo keyword arguments we forward when they are given (None means "not given").
_FIELD_KWARGS = (
    "default_factory", "alias", "alias_priority", "validation_alias", "serialization_alias", "title",
    "description", "gt", "ge", "lt", "le", "min_length", "max_length", "pattern", "discriminator",
    "strict", "multiple_of", "allow_inf_nan", "max_digits", "decimal_places", "examples", "deprecated",
    "json_schema_extra", "union_mode", "coerce_numbers_to_str", "fail_fast",
)


class _BaseParam(FieldInfo):
    """Shared constructor: FastAPI's keyword arguments on top of pydantic's FieldInfo."""

    def __init__(
        self,
        default: Any = Undefined,
        *,
        annotation: Any | None = None,
        regex: str | None = None,
        example: Any = _Unset,
        openapi_examples: dict[str, Any] | None = None,
        include_in_schema: bool = True,
        media_type: str | None = None,
        embed: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if default is ...:
            default = Undefined
        if regex is not None:
            warnings.warn("`regex` is deprecated, use `pattern`", DeprecationWarning, stacklevel=3)
            kwargs.setdefault("pattern", regex)
        if example is not _Unset:
            warnings.warn("`example` is deprecated, use `examples`", DeprecationWarning, stacklevel=3)
        self.example = example
        self.openapi_examples = openapi_examples
        self.include_in_schema = include_in_schema
        if media_type is not None:
            self.media_type = media_type
        if embed is not None:
            self.embed = embed
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in _FIELD_KWARGS}
        if extra:
            # FastAPI accepts arbitrary extras and puts them in the JSON schema.
            schema_extra = dict(kwargs.get("json_schema_extra") or {})
            schema_extra.update(extra)
            kwargs["json_schema_extra"] = schema_extra
        forwarded = {k: v for k, v in kwargs.items() if v is not None and v is not _Unset}
        alias = forwarded.get("alias")
        if isinstance(alias, str):
            # As FastAPI's params (and pydantic's Field()): the alias is also the validation and
            # serialization alias, so models built from these FieldInfos use it.
            forwarded.setdefault("validation_alias", alias)
            forwarded.setdefault("serialization_alias", alias)
        if annotation is not None:
            forwarded["annotation"] = annotation
        super().__init__(default=default, **forwarded)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.default!r})"


class Param(_BaseParam):
    in_: ParamTypes


class Path(Param):
    in_ = ParamTypes.path

    def __init__(self, default: Any = ..., **kwargs: Any) -> None:
        if default is not ... and default is not Undefined:
            raise AssertionError("Path parameters cannot have a default value")
        super().__init__(Undefined, **kwargs)


class Query(Param):
    in_ = ParamTypes.query


class Header(Param):
    in_ = ParamTypes.header

    def __init__(self, default: Any = Undefined, *, convert_underscores: bool = True, **kwargs: Any) -> None:
        self.convert_underscores = convert_underscores
        super().__init__(default, **kwargs)


class Cookie(Param):
    in_ = ParamTypes.cookie


class Body(_BaseParam):
    embed: bool | None = None
    media_type: str = "application/json"


class Form(Body):
    media_type = "application/x-www-form-urlencoded"


class File(Form):
    media_type = "multipart/form-data"


class Depends:
    """A dependency: `call` is resolved per request (cached per request when `use_cache`)."""

    def __init__(
        self, dependency: Callable[..., Any] | None = None, *, use_cache: bool = True, scope: str | None = None
    ) -> None:
        self.dependency = dependency
        self.use_cache = use_cache
        self.scope = scope

    def __repr__(self) -> str:
        attr = getattr(self.dependency, "__name__", type(self.dependency).__name__)
        cache = "" if self.use_cache else ", use_cache=False"
        return f"{self.__class__.__name__}({attr}{cache})"


class Security(Depends):
    """A dependency that also declares OAuth2 scopes (collected into `SecurityScopes`)."""

    def __init__(
        self,
        dependency: Callable[..., Any] | None = None,
        *,
        scopes: Sequence[str] | None = None,
        use_cache: bool = True,
    ) -> None:
        super().__init__(dependency=dependency, use_cache=use_cache)
        self.scopes = list(scopes or [])
