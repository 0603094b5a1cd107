"""The analysed signature of an endpoint or dependency (FastAPI's `Dependant`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._compat import ModelField


@dataclass
class SecurityRequirement:
    security_scheme: Any
    scopes: Sequence[str] | None = None


@dataclass
class Dependant:
    path_params: list[ModelField] = field(default_factory=list)
    query_params: list[ModelField] = field(default_factory=list)
    header_params: list[ModelField] = field(default_factory=list)
    cookie_params: list[ModelField] = field(default_factory=list)
    body_params: list[ModelField] = field(default_factory=list)
    dependencies: list[Dependant] = field(default_factory=list)
    security_requirements: list[SecurityRequirement] = field(default_factory=list)
    name: str | None = None
    call: Callable[..., Any] | None = None
    request_param_name: str | None = None
    websocket_param_name: str | None = None
    http_connection_param_name: str | None = None
    response_param_name: str | None = None
    background_tasks_param_name: str | None = None
    security_scopes_param_name: str | None = None
    security_scopes_class: Any = None
    security_scopes: list[str] | None = None
    use_cache: bool = True
    path: str | None = None
    scope: str | None = None
    # Filled by get_dependant: how to call `call` ("sync", "async", "gen", "asyncgen").
    call_kind: str = "sync"

    @property
    def cache_key(self) -> tuple[Any, tuple[str, ...]]:
        return (self.call, tuple(sorted(set(self.security_scopes or []))))

    @property
    def has_params(self) -> bool:
        return bool(
            self.path_params or self.query_params or self.header_params or self.cookie_params or self.body_params
        )
