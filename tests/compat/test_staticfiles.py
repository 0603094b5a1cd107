"""StaticFiles mounted on an app: content types, traversal safety, html mode, conditional GETs."""

import os
from pathlib import Path

import pytest

from fasterapi import FastAPI
from fasterapi.staticfiles import StaticFiles
from fasterapi.testclient import TestClient


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_text("hello")
    (root / "style.css").write_text("body {}")
    (root / "data.json").write_text("{}")
    (root / "index.html").write_text("<h1>index</h1>")
    (root / "sub" / "index.html").write_text("<h1>sub</h1>")
    (root / "404.html").write_text("<h1>missing</h1>")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    return root


def client_for(directory: Path, **kwargs: object) -> TestClient:
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=directory, **kwargs), name="static")  # type: ignore[arg-type]

    @app.get("/")
    def root():
        return {"ok": True}

    return TestClient(app)


def test_serves_files_with_content_type_and_validators(site: Path) -> None:
    client = client_for(site)
    response = client.get("/static/hello.txt")
    assert response.status_code == 200
    assert response.text == "hello"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "5"
    assert response.headers["etag"].startswith('"')
    assert "last-modified" in response.headers
    assert client.get("/static/style.css").headers["content-type"] == "text/css; charset=utf-8"
    assert client.get("/static/data.json").headers["content-type"] == "application/json"
    assert client.get("/").json() == {"ok": True}


def test_missing_file_and_method(site: Path) -> None:
    client = client_for(site)
    response = client.get("/static/nope.txt")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    response = client.post("/static/hello.txt")
    assert response.status_code == 405


@pytest.mark.parametrize(
    "path",
    ["/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/sub/../../secret.txt", "/static/..%2fsecret.txt",
     "/static/link.txt"],
)
def test_path_traversal_is_refused(site: Path, path: str) -> None:
    response = client_for(site).get(path)
    assert response.status_code == 404
    assert "secret" not in response.text


def test_follow_symlink_allows_links(site: Path) -> None:
    response = client_for(site, follow_symlink=True).get("/static/link.txt")
    assert response.status_code == 200
    assert response.text == "secret"


def test_conditional_get(site: Path) -> None:
    client = client_for(site)
    first = client.get("/static/hello.txt")
    again = client.get("/static/hello.txt", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    since = client.get("/static/hello.txt", headers={"if-modified-since": first.headers["last-modified"]})
    assert since.status_code == 304
    changed = client.get("/static/hello.txt", headers={"if-none-match": '"other"'})
    assert changed.status_code == 200


def test_head(site: Path) -> None:
    response = client_for(site).head("/static/hello.txt")
    assert response.status_code == 200
    assert response.content == b""


def test_html_mode(site: Path) -> None:
    client = client_for(site, html=True)
    assert client.get("/static/").text == "<h1>index</h1>"
    assert client.get("/static/sub/").text == "<h1>sub</h1>"
    redirect = client.get("/static/sub", follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"].endswith("/static/sub/")
    missing = client.get("/static/nope")
    assert missing.status_code == 404
    assert missing.text == "<h1>missing</h1>"


def test_directory_without_html_mode_is_404(site: Path) -> None:
    assert client_for(site).get("/static/sub/").status_code == 404


def test_check_dir(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="does not exist"):
        StaticFiles(directory=tmp_path / "absent")
    StaticFiles(directory=tmp_path / "absent", check_dir=False)


def test_url_path_for_static(site: Path) -> None:
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=site), name="static")
    assert app.url_path_for("static", path="/hello.txt") == "/static/hello.txt"
