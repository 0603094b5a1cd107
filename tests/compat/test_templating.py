"""Jinja2Templates: TemplateResponse(request, name, context), url_for, context processors."""

from pathlib import Path

import pytest

import jinja2  # noqa: F401 - an optional dependency of the package, a test dependency here

from fasterapi import FastAPI, Request
from fasterapi.responses import HTMLResponse
from fasterapi.staticfiles import StaticFiles
from fasterapi.templating import Jinja2Templates
from fasterapi.testclient import TestClient


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    (tmp_path / "templates").mkdir()
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "s.css").write_text("")
    (tmp_path / "templates" / "item.html").write_text(
        '<link href="{{ url_for(\'static\', path=\'/s.css\') }}"><h1>Item {{ id }}</h1>{{ extra }}{{ user }}'
    )
    return tmp_path


def make_app(base: Path) -> tuple[FastAPI, Jinja2Templates]:
    templates = Jinja2Templates(
        directory=base / "templates", context_processors=[lambda request: {"user": "ann"}]
    )
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=base / "static"), name="static")

    @app.get("/items/{id}", response_class=HTMLResponse)
    def read_item(request: Request, id: str):
        return templates.TemplateResponse(request=request, name="item.html", context={"id": id, "extra": "<b>"})

    @app.get("/positional/{id}", response_class=HTMLResponse)
    def positional(request: Request, id: str):
        return templates.TemplateResponse(request, "item.html", {"id": id}, status_code=201)

    return app, templates


def test_template_response(templates_dir: Path) -> None:
    app, _ = make_app(templates_dir)
    response = TestClient(app).get("/items/42")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == '<link href="http://testserver/static/s.css"><h1>Item 42</h1>&lt;b&gt;ann'


def test_positional_arguments_and_status(templates_dir: Path) -> None:
    app, _ = make_app(templates_dir)
    response = TestClient(app).get("/positional/7")
    assert response.status_code == 201
    assert "<h1>Item 7</h1>" in response.text


def test_response_keeps_template_and_context(templates_dir: Path) -> None:
    app, templates = make_app(templates_dir)
    captured = {}

    @app.get("/capture", response_class=HTMLResponse)
    def capture(request: Request):
        response = templates.TemplateResponse(request, "item.html", {"id": 1})
        captured["response"] = response
        return response

    TestClient(app).get("/capture")
    response = captured["response"]
    assert response.template.name == "item.html"
    assert response.context["id"] == 1 and "request" in response.context


def test_directory_or_env_required() -> None:
    with pytest.raises(AssertionError):
        Jinja2Templates()
