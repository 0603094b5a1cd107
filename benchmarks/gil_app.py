"""Implicit batching (remedy 1a): the same endpoint run inline on the loop thread (every request ready
in one loop tick under one GIL hold) and on the asyncio executor (each request taking the GIL on a
worker thread: one GIL acquisition and two thread hops per request)."""

from fasterapi import FasterAPI

app = FasterAPI(blocking_pool="executor")


@app.get("/inline")
def inline():
    return {"message": "Hello, World!"}


@app.get("/per-request-gil", blocking=True)
def per_request_gil():
    return {"message": "Hello, World!"}
