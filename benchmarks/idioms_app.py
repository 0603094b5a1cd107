"""Common FastAPI response idioms, one route each (benchmarks/idioms.py measures them in process).

    python -m fasterapi routes idioms_app:app      (--app-dir benchmarks)

Every route is an `async def` answering `{"message": "Hello, World!"}` (or the same text, or a
list of ten such models) in the way its idiom writes it. `app_orjson` is the same `/dict` route
in an app with `default_response_class=ORJSONResponse`.
"""

import warnings

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

with warnings.catch_warnings():  # FastAPI 0.165 deprecates these two (pydantic's JSON is faster)
    warnings.simplefilter("ignore")
    from fastapi.responses import ORJSONResponse, UJSONResponse


class Msg(BaseModel):
    message: str


HELLO = {"message": "Hello, World!"}
TEXT = "Hello, World!"
TEN = [Msg(message=f"Hello, World! {i}") for i in range(10)]

app = FastAPI()


@app.get("/dict")
async def plain_dict():
    return HELLO


@app.get("/status-201", status_code=201)
async def status_201():
    return HELLO


@app.get("/class-json", response_class=JSONResponse)
async def class_json():
    return HELLO


@app.get("/class-orjson", response_class=ORJSONResponse)
async def class_orjson():
    return HELLO


@app.get("/class-ujson", response_class=UJSONResponse)
async def class_ujson():
    return HELLO


@app.get("/class-plaintext", response_class=PlainTextResponse)
async def class_plaintext():
    return TEXT


@app.get("/class-html", response_class=HTMLResponse)
async def class_html():
    return TEXT


@app.get("/returns-response")
async def returns_response():
    return Response(content=TEXT, media_type="text/plain")


@app.get("/returns-plaintext")
async def returns_plaintext():
    return PlainTextResponse(TEXT)


@app.get("/returns-jsonresponse")
async def returns_jsonresponse():
    return JSONResponse(HELLO)


@app.get("/response-model", response_model=Msg)
async def response_model():
    return HELLO


@app.get("/annotation")
async def annotation() -> Msg:
    return Msg(message=TEXT)


@app.get("/model")
async def model():
    return Msg(message=TEXT)


@app.get("/response-model-list", response_model=list[Msg])
async def response_model_list():
    return TEN


@app.get("/model-list")
async def model_list():
    return TEN


app_orjson = FastAPI(default_response_class=ORJSONResponse)


@app_orjson.get("/dict")
async def orjson_dict():
    return HELLO
