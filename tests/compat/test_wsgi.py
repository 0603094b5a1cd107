"""`fasterapi.middleware.wsgi.WSGIMiddleware`: a WSGI app mounted in an app (PEP 3333 environ, the
app run in a worker thread), through the engine."""

from __future__ import annotations

import threading
import warnings

import pytest

from fasterapi import FastAPI
from fasterapi.testclient import TestClient

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # Starlette's (FASTERAPI_REFERENCE=1) warns
    from fasterapi.middleware.wsgi import WSGIMiddleware


def environ_app(environ, start_response):
    """Answers with what the environ says (and the thread it ran in)."""
    body = environ["wsgi.input"].read()
    lines = [
        f"{key}={environ.get(key)!s}"
        for key in (
            "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
            "HTTP_X_CUSTOM", "SERVER_PROTOCOL", "wsgi.url_scheme",
        )
    ]
    lines.append(f"main_thread={threading.current_thread() is threading.main_thread()}")
    lines.append("body=" + body.decode())
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-WSGI", "1")])
    return ["\n".join(lines).encode()]


def chunked_app(environ, start_response):
    start_response("202 Accepted", [("Content-Type", "text/plain")])

    def gen():
        yield b"one;"
        yield b""
        yield b"two;"

    return gen()


def failing_app(environ, start_response):
    raise ValueError("wsgi boom")


def make_app(wsgi) -> FastAPI:
    app = FastAPI()

    @app.get("/v2")
    def read_main():
        return {"message": "Hello World"}

    app.mount("/v1", WSGIMiddleware(wsgi))
    return app


def parse(text: str) -> dict[str, str]:
    out = {}
    for line in text.split("\n"):
        key, _, value = line.partition("=")
        out[key] = value
    return out


def test_environ():
    client = TestClient(make_app(environ_app))
    r = client.post("/v1/some/path?a=1&b=2", content=b"payload", headers={"content-type": "text/plain", "x-custom": "c"})
    assert r.status_code == 200
    assert r.headers["x-wsgi"] == "1"
    env = parse(r.text)
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == "/v1"
    assert env["PATH_INFO"] == "/some/path"
    assert env["QUERY_STRING"] == "a=1&b=2"
    assert env["CONTENT_TYPE"] == "text/plain"
    assert env["CONTENT_LENGTH"] == "7"
    assert env["HTTP_X_CUSTOM"] == "c"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["wsgi.url_scheme"] == "http"
    assert env["main_thread"] == "False"  # the WSGI app runs in a worker thread
    assert env["body"] == "payload"
    assert client.get("/v2").json() == {"message": "Hello World"}


def test_iterable_chunks():
    r = TestClient(make_app(chunked_app)).get("/v1/")
    assert r.status_code == 202
    assert r.text == "one;two;"


def test_exception_in_the_wsgi_app():
    app = make_app(failing_app)
    with pytest.raises(ValueError, match="wsgi boom"):
        TestClient(app).get("/v1/")
    assert TestClient(app, raise_server_exceptions=False).get("/v1/").status_code == 500


def test_flask_app():
    """FastAPI's docs (advanced/wsgi): a Flask app mounted under /v1."""
    flask = pytest.importorskip("flask")
    from markupsafe import escape

    flask_app = flask.Flask(__name__)

    @flask_app.route("/")
    def flask_main():
        name = flask.request.args.get("name", "World")
        return f"Hello, {escape(name)} from Flask!"

    @flask_app.route("/post", methods=["POST"])
    def flask_post():
        return {"got": flask.request.get_json()}

    client = TestClient(make_app(flask_app))
    r = client.get("/v1/")
    assert r.status_code == 200
    assert r.text == "Hello, World from Flask!"
    assert client.get("/v1/?name=Ada").text == "Hello, Ada from Flask!"
    assert client.post("/v1/post", json={"a": 1}).json() == {"got": {"a": 1}}
    assert client.get("/v1/nope").status_code == 404
    assert client.get("/v2").json() == {"message": "Hello World"}
