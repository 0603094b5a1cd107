#!/usr/bin/env bash
# Installs what the benchmarks need: wrk (Debian) and the peers (FastAPI on uvicorn, Granian)
# from PyPI into their own environment, so they never share packages with FasterAPI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v nginx >/dev/null || apt-get install -y -qq nginx-light
if [ ! -x "$here/.venv-peers/bin/uvicorn" ]; then
  python3 -m venv "$here/.venv-peers"
  "$here/.venv-peers/bin/pip" install -q fastapi uvicorn uvloop httptools granian
fi
