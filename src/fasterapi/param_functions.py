"""The user-facing parameter functions (`from fasterapi import Query, Depends, ...`).

They return the `params` classes; the routing layer inspects those at registration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import params
from .params import Undefined


def Path(default: Any = ..., **kwargs: Any) -> Any:  # noqa: N802
    return params.Path(default, **kwargs)


def Query(default: Any = Undefined, **kwargs: Any) -> Any:  # noqa: N802
    return params.Query(default, **kwargs)


def Header(default: Any = Undefined, *, convert_underscores: bool = True, **kwargs: Any) -> Any:  # noqa: N802
    return params.Header(default, convert_underscores=convert_underscores, **kwargs)


def Cookie(default: Any = Undefined, **kwargs: Any) -> Any:  # noqa: N802
    return params.Cookie(default, **kwargs)


def Body(  # noqa: N802
    default: Any = Undefined, *, embed: bool | None = None, media_type: str = "application/json", **kwargs: Any
) -> Any:
    return params.Body(default, embed=embed, media_type=media_type, **kwargs)


def Form(default: Any = Undefined, *, media_type: str = "application/x-www-form-urlencoded", **kwargs: Any) -> Any:  # noqa: N802
    return params.Form(default, media_type=media_type, **kwargs)


def File(default: Any = Undefined, *, media_type: str = "multipart/form-data", **kwargs: Any) -> Any:  # noqa: N802
    return params.File(default, media_type=media_type, **kwargs)


def Depends(  # noqa: N802
    dependency: Callable[..., Any] | None = None, *, use_cache: bool = True, scope: str | None = None
) -> Any:
    return params.Depends(dependency=dependency, use_cache=use_cache, scope=scope)


def Security(  # noqa: N802
    dependency: Callable[..., Any] | None = None, *, scopes: Sequence[str] | None = None, use_cache: bool = True
) -> Any:
    return params.Security(dependency=dependency, scopes=scopes, use_cache=use_cache)
