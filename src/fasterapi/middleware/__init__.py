"""Middleware for FasterAPI apps. See `fasterapi.middleware.base` for the protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class Middleware:
    """A middleware class plus its options, as passed to `FasterAPI(middleware=[...])`."""

    def __init__(self, cls: type[Any], *args: Any, **kwargs: Any) -> None:
        self.cls = cls
        self.args = args
        self.kwargs = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))

    def __repr__(self) -> str:
        options = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"Middleware({', '.join([self.cls.__name__, *options])})"


__all__ = ["Middleware"]
