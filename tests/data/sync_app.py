"""Plain def endpoints that block (tests/integration/test_sync_threadpool.py)."""

import threading
import time

from fasterapi import FastAPI

app = FastAPI()


@app.get("/sleep")
def sleep(s: float = 0.3):
    time.sleep(s)  # a blocking call, as a sync database driver makes
    return {"thread": threading.current_thread().name != "MainThread"}
