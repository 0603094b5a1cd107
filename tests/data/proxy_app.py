"""An app behind a proxy (tests/integration/test_behind_proxy.py)."""

from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/app")
def read_main(request: Request):
    return {
        "root_path": request.scope.get("root_path"),
        "scheme": request.url.scheme,
        "url": str(request.url),
        "url_for": str(request.url_for("read_main")),
        "client": request.client.host if request.client else None,
    }


@app.get("/items/")
def read_items():
    return ["plumbus", "portal gun"]


@app.get("/fast/{n}")
def fast(n: int):
    return {"n": n}
