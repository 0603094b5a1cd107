"""/openapi.json compared with FastAPI's for the same apps (tests/data/openapi_apps.py).

FastAPI runs in its own virtualenv (never imported here): `<repo>/build/oracle-venv`, created by
the session fixture when absent, or the interpreter named by FASTERAPI_ORACLE_PYTHON. If it cannot
be created the tests fail: they must not silently turn into skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import warnings
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
RUNNER = Path(__file__).with_name("oracle_runner.py")
ORACLE_VENV = ROOT / "build" / "oracle-venv"
# Pinned: the expected documents are those of this FastAPI release.
ORACLE_PACKAGES = ["fastapi==0.165.0", "httpx", "python-multipart"]

sys.path.insert(0, str(DATA))
import openapi_apps  # noqa: E402


def _oracle_python() -> Path:
    override = os.environ.get("FASTERAPI_ORACLE_PYTHON")
    if override:
        return Path(override)
    python = ORACLE_VENV / "bin" / "python"
    probe = [str(python), "-c", "import fastapi, multipart"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    venv.EnvBuilder(with_pip=True, clear=True).create(ORACLE_VENV)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *ORACLE_PACKAGES],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        pytest.fail(f"could not install the FastAPI oracle into {ORACLE_VENV}:\n{install.stdout}\n{install.stderr}")
    return python


@pytest.fixture(scope="session")
def oracle_documents() -> dict[str, Any]:
    python = _oracle_python()
    result = subprocess.run(
        [str(python), str(RUNNER), str(DATA / "openapi_apps.py")], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        pytest.fail(f"the FastAPI oracle failed:\n{result.stderr}")
    return json.loads(result.stdout)


def _our_document(name: str) -> dict[str, Any]:
    from fasterapi.testclient import TestClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate operation id warnings are part of some apps
        app = openapi_apps.APPS[name]()
        response = TestClient(app).get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in ours.keys() | theirs.keys():
            if key not in theirs:
                out.append(f"{path}/{key}: only in ours: {json.dumps(ours[key])[:200]}")
            elif key not in ours:
                out.append(f"{path}/{key}: missing: FastAPI has {json.dumps(theirs[key])[:200]}")
            else:
                out.extend(_differences(ours[key], theirs[key], f"{path}/{key}"))
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [d for i, (a, b) in enumerate(zip(ours, theirs)) for d in _differences(a, b, f"{path}[{i}]")]
    if ours != theirs or type(ours) is not type(theirs):
        return [f"{path}: ours {json.dumps(ours)[:200]} != FastAPI {json.dumps(theirs)[:200]}"]
    return []


@pytest.mark.parametrize("name", sorted(openapi_apps.APPS))
def test_document_equals_fastapi(name: str, oracle_documents: dict[str, Any]) -> None:
    ours = _our_document(name)
    differences = _differences(ours, oracle_documents[name])
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("name", sorted(openapi_apps.APPS))
def test_document_text_equals_fastapi(name: str, oracle_documents: dict[str, Any]) -> None:
    """Key order and number types too: the serialized documents are identical."""
    ours = _our_document(name)
    assert json.dumps(ours) == json.dumps(oracle_documents[name])
