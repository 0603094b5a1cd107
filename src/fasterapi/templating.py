"""`Jinja2Templates`: render Jinja2 templates into HTML responses (jinja2 is an optional dependency).

    templates = Jinja2Templates(directory="templates")

    @app.get("/items/{id}", response_class=HTMLResponse)
    def read_item(request: Request, id: str):
        return templates.TemplateResponse(request=request, name="item.html", context={"id": id})

Templates get `request` and `url_for(name, **path_params)` (the request's `url_for`) in their
context, plus whatever the `context_processors` return.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .background import BackgroundTask
from .requests import Request
from .responses import HTMLResponse

try:
    import jinja2

    # @pass_context is jinja2 >= 3.0; older versions called it contextfunction.
    pass_context = jinja2.pass_context
except ImportError:  # pragma: no cover - exercised only without jinja2
    jinja2 = None  # type: ignore[assignment]


class _TemplateResponse(HTMLResponse):
    """An HTML response that remembers its template and context (tests inspect both)."""

    def __init__(
        self,
        template: Any,
        context: dict[str, Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.template = template
        self.context = context
        super().__init__(template.render(context), status_code, headers, media_type, background)


class Jinja2Templates:
    def __init__(
        self,
        directory: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        *,
        context_processors: list[Callable[[Request], dict[str, Any]]] | None = None,
        env: Any = None,
        **env_options: Any,
    ) -> None:
        if jinja2 is None:
            raise AssertionError("jinja2 must be installed to use Jinja2Templates")
        if not (bool(directory) ^ bool(env)):
            raise AssertionError("either 'directory' or 'env' arguments must be passed")
        self.context_processors = context_processors or []
        if directory is not None:
            env_options.setdefault("loader", jinja2.FileSystemLoader(directory))
            env_options.setdefault("autoescape", True)
            env = jinja2.Environment(**env_options)
        self.env = env
        self._setup_env_defaults(env)

    def _setup_env_defaults(self, env: Any) -> None:
        @pass_context
        def url_for(context: dict[str, Any], name: str, /, **path_params: Any) -> Any:
            return context["request"].url_for(name, **path_params)

        env.globals.setdefault("url_for", url_for)

    def get_template(self, name: str) -> Any:
        return self.env.get_template(name)

    def TemplateResponse(self, *args: Any, **kwargs: Any) -> _TemplateResponse:  # noqa: N802 - Starlette's name
        """`TemplateResponse(request, name, context=None, status_code=200, headers=None,
        media_type=None, background=None)`; the older `TemplateResponse(name, {"request": request})`
        form is accepted with a DeprecationWarning."""
        if args and isinstance(args[0], str):
            warnings.warn(
                "The `name` is not the first parameter anymore. The first parameter should be the `Request` instance.\n"
                'Replace `TemplateResponse(name, {"request": request})` by `TemplateResponse(request, name)`.',
                DeprecationWarning,
                stacklevel=2,
            )
            names = ("name", "context", "status_code", "headers", "media_type", "background")
            values = dict(zip(names, args))
            values.update(kwargs)
            context = values.get("context") or {}
            request = values.get("request", context.get("request"))
            if request is None:
                raise ValueError('context must include a "request" key')
        else:
            names = ("request", "name", "context", "status_code", "headers", "media_type", "background")
            values = dict(zip(names, args))
            values.update(kwargs)
            request = values.get("request")
            context = values.get("context") or {}
            if request is None:
                request = context.get("request")
            if request is None:
                raise ValueError("TemplateResponse requires the `request` argument")
            if "name" not in values:
                raise TypeError("TemplateResponse() missing required argument: 'name'")
        context = dict(context)
        context.setdefault("request", request)
        for processor in self.context_processors:
            context.update(processor(request))
        template = self.get_template(values["name"])
        return _TemplateResponse(
            template,
            context,
            status_code=values.get("status_code", 200),
            headers=values.get("headers"),
            media_type=values.get("media_type"),
            background=values.get("background"),
        )
