"""FastAPI 0.16x's request body limits: `max_body_size` and `form_limits`.

`max_body_size` (app, router, `include_router`, route): the most specific one set wins (route,
then its router, then each enclosing inclusion, then the app). It becomes the route's engine body
limit (`APIRoute.body_limit`), so the engine answers 413 `{"detail": "Content Too Large"}` from
`Content-Length` (or while reading a chunked body) before the body is held in memory; the app's
own `max_body_size` is the engine's default for every other route.

`form_limits` (`max_fields`, `max_files`, `max_part_size`) are merged key by key, the most
specific level winning, and bound the form parser (400 with Starlette's message above them).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, NonNegativeInt, TypeAdapter, with_config
from typing_extensions import TypedDict


def validate_max_body_size(max_body_size: Any) -> None:
    if max_body_size is None:
        return
    if isinstance(max_body_size, bool) or not isinstance(max_body_size, int) or max_body_size < 0:
        raise ValueError("max_body_size must be a non-negative integer or None")


def get_body_size_limit(*limits: int | None) -> int | None:
    """The first limit that is set (most specific first)."""
    for limit in limits:
        if limit is not None:
            return limit
    return None


@with_config(ConfigDict(strict=True, extra="forbid"))
class FormLimits(TypedDict, total=False):
    """Limits for the automatic parsing of `Form`, `File` and `UploadFile` parameters."""

    max_fields: Annotated[NonNegativeInt, "Maximum number of non-file form fields."]
    max_files: Annotated[NonNegativeInt, "Maximum number of files in a multipart form."]
    max_part_size: Annotated[NonNegativeInt, "Maximum size of a non-file field in bytes."]


_FormLimits = FormLimits  # FastAPI's name (fastapi._form_limits._FormLimits)
_form_limits_adapter: TypeAdapter[FormLimits] = TypeAdapter(FormLimits)


def validate_form_limits(limits: FormLimits | None) -> FormLimits:
    """A validated copy (pydantic's ValidationError is a ValueError)."""
    return {} if limits is None else _form_limits_adapter.validate_python(limits)
