#!/usr/bin/env bash
# Installs what the benchmarks need: wrk and nginx (Debian), and the peers (FastAPI on uvicorn with
# uvloop + httptools, Granian, socketify where it installs) from PyPI into their own environment,
# benchmarks/.venv-peers, so they never share packages with FasterAPI. The peers get the same
# FastAPI, Starlette and pydantic versions as the interpreter that runs FasterAPI ($PYTHON, default
# python3), so every server runs the same app code.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
updated=
apt_install() {
  [ -n "$updated" ] || { apt-get update -qq; updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
command -v wrk >/dev/null || apt_install wrk
command -v nginx >/dev/null || apt_install nginx-light

pins=$("$py" - <<'EOF' 2>/dev/null || true
import importlib.metadata as m
names = ("fastapi", "starlette", "pydantic", "pydantic-core")
try:
    print(" ".join(f"{n}=={m.version(n)}" for n in names))
except m.PackageNotFoundError:
    print("fastapi")
EOF
)
[ -n "$pins" ] || pins=fastapi
[ -x "$here/.venv-peers/bin/python" ] || python3 -m venv "$here/.venv-peers"
"$here/.venv-peers/bin/pip" install -q $pins uvicorn uvloop httptools granian
"$here/.venv-peers/bin/pip" install -q socketify || echo "setup.sh: socketify did not install; wire.py skips it"
"$here/.venv-peers/bin/python" -c "import fastapi, pydantic, uvicorn, granian; print('peers: fastapi', fastapi.__version__, 'pydantic', pydantic.__version__, 'uvicorn', uvicorn.__version__, 'granian', granian.__version__)"
