"""An app whose lifespan rebuilds a route (as fastapi-pagination's add_pagination) and adds one."""

from contextlib import asynccontextmanager
from contextvars import ContextVar

from fastapi import Depends, FastAPI
from fastapi.dependencies.utils import get_parameterless_sub_dependant
from fastapi.routing import request_response

_tag: ContextVar[str] = ContextVar("_tag", default="untouched")


async def tag_dependency(tag: str = "default"):
    token = _tag.set(tag)
    try:
        yield
    finally:
        _tag.reset(token)


@asynccontextmanager
async def lifespan(app: FastAPI):
    for route in app.routes:
        if getattr(route, "path", None) == "/items":
            dep = Depends(tag_dependency)
            route.dependencies.append(dep)
            route.dependant.dependencies.append(get_parameterless_sub_dependant(depends=dep, path=route.path_format))
            route.app = request_response(route.get_route_handler())

    @app.get("/late")
    def late() -> dict[str, bool]:
        return {"late": True}

    yield


app = FastAPI(lifespan=lifespan)


@app.get("/items")
def items(n: int = 1) -> dict[str, object]:
    return {"n": n, "tag": _tag.get()}
