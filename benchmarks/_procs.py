"""What the reliability benchmarks (slowloris, soak, chaos) share to start a server process."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def die_with_parent() -> None:  # in the server's process, before exec: SIGTERM when we die
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env() -> dict[str, str]:
    """The environment for a server subprocess: a development tree serves its own engine."""
    env = dict(os.environ)
    if any((ROOT / "src" / "fasterapi").glob("_core*.so")):
        env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env
