"""`jsonable_encoder`: turn any FastAPI-returnable value into JSON-compatible builtins."""

from __future__ import annotations

import dataclasses
import datetime
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from pathlib import PurePath
from re import Pattern
from types import GeneratorType
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from pydantic.networks import AnyUrl, NameEmail
from pydantic.types import SecretBytes, SecretStr
from pydantic_core import PydanticUndefined, Url

IncEx = Any


def decimal_encoder(dec_value: Decimal) -> int | float:
    """FastAPI's: integral decimals stay ints, others become floats."""
    return _decimal(dec_value)


def isoformat(o: Any) -> str:
    """FastAPI's: date/time/datetime as ISO 8601."""
    return o.isoformat()  # type: ignore[no-any-return]


def _decimal(value: Decimal) -> int | float:
    # FastAPI: integral decimals stay ints, others become floats.
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(value)
    return float(value)


ENCODERS_BY_TYPE: dict[type[Any], Callable[[Any], Any]] = {
    bytes: lambda o: o.decode(),
    datetime.date: lambda o: o.isoformat(),
    datetime.datetime: lambda o: o.isoformat(),
    datetime.time: lambda o: o.isoformat(),
    datetime.timedelta: lambda td: td.total_seconds(),
    Decimal: _decimal,
    Enum: lambda o: o.value,
    frozenset: list,
    deque: list,
    GeneratorType: list,
    IPv4Address: str,
    IPv4Interface: str,
    IPv4Network: str,
    IPv6Address: str,
    IPv6Interface: str,
    IPv6Network: str,
    NameEmail: str,
    PurePath: str,
    Pattern: lambda o: o.pattern,
    SecretBytes: str,
    SecretStr: str,
    set: list,
    UUID: str,
    Url: str,
    AnyUrl: str,
}

_PRIMITIVES = (str, int, float, type(None))


def _encoder_for(obj: Any) -> Callable[[Any], Any] | None:
    encoder = ENCODERS_BY_TYPE.get(type(obj))
    if encoder is not None:
        return encoder
    for base in type(obj).__mro__[1:]:
        encoder = ENCODERS_BY_TYPE.get(base)
        if encoder is not None:
            return encoder
    return None


def jsonable_encoder(
    obj: Any,
    include: IncEx | None = None,
    exclude: IncEx | None = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool = False,
    exclude_none: bool = False,
    custom_encoder: dict[Any, Callable[[Any], Any]] | None = None,
    sqlalchemy_safe: bool = True,
) -> Any:
    if custom_encoder:
        if type(obj) in custom_encoder:
            return custom_encoder[type(obj)](obj)
        for encoder_type, encoder in custom_encoder.items():
            if isinstance(obj, encoder_type):
                return encoder(obj)
    if include is not None and not isinstance(include, (set, dict)):
        include = set(include)
    if exclude is not None and not isinstance(exclude, (set, dict)):
        exclude = set(exclude)
    if isinstance(obj, BaseModel):
        data = obj.model_dump(
            mode="json",
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_none=exclude_none,
            exclude_defaults=exclude_defaults,
        )
        return jsonable_encoder(
            data, exclude_none=exclude_none, custom_encoder=custom_encoder, sqlalchemy_safe=sqlalchemy_safe
        )
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable_encoder(
            dataclasses.asdict(obj),
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
            custom_encoder=custom_encoder,
            sqlalchemy_safe=sqlalchemy_safe,
        )
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, _PRIMITIVES):
        return obj
    if obj is PydanticUndefined:
        return None
    if isinstance(obj, dict):
        allowed = set(obj.keys())
        if include is not None:
            allowed &= set(include)
        if exclude is not None:
            allowed -= set(exclude)
        result = {}
        for key, value in obj.items():
            if key not in allowed:
                continue
            if sqlalchemy_safe and isinstance(key, str) and key.startswith("_sa"):
                continue
            if value is None and exclude_none:
                continue
            encoded_key = jsonable_encoder(
                key, by_alias=by_alias, exclude_unset=exclude_unset, exclude_none=exclude_none,
                custom_encoder=custom_encoder, sqlalchemy_safe=sqlalchemy_safe,
            )
            result[encoded_key] = jsonable_encoder(
                value, by_alias=by_alias, exclude_unset=exclude_unset, exclude_none=exclude_none,
                custom_encoder=custom_encoder, sqlalchemy_safe=sqlalchemy_safe,
            )
        return result
    if isinstance(obj, (list, set, frozenset, GeneratorType, tuple, deque)):
        return [
            jsonable_encoder(
                item, include=include, exclude=exclude, by_alias=by_alias, exclude_unset=exclude_unset,
                exclude_defaults=exclude_defaults, exclude_none=exclude_none,
                custom_encoder=custom_encoder, sqlalchemy_safe=sqlalchemy_safe,
            )
            for item in obj
        ]
    encoder = _encoder_for(obj)
    if encoder is not None:
        return encoder(obj)
    try:
        data = dict(obj)
    except Exception as first:
        try:
            data = vars(obj)
        except Exception as second:
            raise ValueError([first, second]) from second
    return jsonable_encoder(
        data, include=include, exclude=exclude, by_alias=by_alias, exclude_unset=exclude_unset,
        exclude_defaults=exclude_defaults, exclude_none=exclude_none,
        custom_encoder=custom_encoder, sqlalchemy_safe=sqlalchemy_safe,
    )


def json_default(obj: Any) -> Any:
    """The JSON writers' `default=`: called only for objects they cannot write natively."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", by_alias=True)
    encoder = _encoder_for(obj)
    if encoder is not None:
        return encoder(obj)
    return jsonable_encoder(obj)
