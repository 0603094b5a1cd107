"""Lifespan, startup/shutdown events, app.state, background tasks."""

import asyncio
from contextlib import asynccontextmanager
from typing import Annotated

from fasterapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request
from fasterapi.responses import JSONResponse
from fasterapi.testclient import TestClient


def test_lifespan_context_and_state():
    events = []

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        events.append("startup")
        app.state.models = {"answer": 42}
        yield {"db": "connected"}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def root(request: Request):
        return {"answer": request.app.state.models["answer"], "db": request.state.db}

    with TestClient(app) as client:
        assert events == ["startup"]
        assert client.get("/").json() == {"answer": 42, "db": "connected"}
    assert events == ["startup", "shutdown"]


def test_on_event_handlers():
    events = []
    app = FastAPI()

    @app.on_event("startup")
    async def startup():
        events.append("async startup")

    @app.on_event("startup")
    def startup_sync():
        events.append("sync startup")

    @app.on_event("shutdown")
    def shutdown():
        events.append("shutdown")

    @app.get("/")
    def root():
        return events

    with TestClient(app) as client:
        assert client.get("/").json() == ["async startup", "sync startup"]
    assert events[-1] == "shutdown"


def test_router_events_are_included():
    events = []
    router = APIRouter()

    @router.on_event("startup")
    def router_startup():
        events.append("router")

    app = FastAPI()
    app.include_router(router)
    with TestClient(app):
        pass
    assert "router" in events


def test_background_tasks_run_after_response():
    log: list[str] = []
    app = FastAPI()

    def write_notification(email: str, message: str = ""):
        log.append(f"notification for {email}: {message}")

    async def async_task(value: str):
        await asyncio.sleep(0)
        log.append(f"async {value}")

    def get_query(background_tasks: BackgroundTasks, q: str | None = None):
        if q:
            background_tasks.add_task(write_notification, "dep", message=q)
        return q

    @app.post("/send-notification/{email}")
    async def send_notification(email: str, background_tasks: BackgroundTasks, q: Annotated[str | None, Depends(get_query)]):
        background_tasks.add_task(write_notification, email, message="some notification")
        background_tasks.add_task(async_task, email)
        log.append("endpoint")
        return {"message": "Notification sent in the background"}

    client = TestClient(app)
    r = client.post("/send-notification/a@b.c?q=hi")
    assert r.json() == {"message": "Notification sent in the background"}
    assert log == [
        "endpoint",
        "notification for dep: hi",
        "notification for a@b.c: some notification",
        "async a@b.c",
    ]


def test_background_on_returned_response():
    log: list[str] = []
    app = FastAPI()

    @app.get("/")
    def root():
        tasks = BackgroundTasks()
        tasks.add_task(log.append, "done")
        return JSONResponse({"ok": True}, background=tasks)

    assert TestClient(app).get("/").json() == {"ok": True}
    assert log == ["done"]


def test_app_state_set_at_creation():
    app = FastAPI()
    app.state.counter = 0

    @app.get("/")
    def root(request: Request):
        request.app.state.counter += 1
        return request.app.state.counter

    client = TestClient(app)
    assert client.get("/").json() == 1
    assert client.get("/").json() == 2
