#!/usr/bin/env bash
# The README's test command: install what the suite needs on a fresh Debian machine (apt-get as
# root, then pip), then run pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
# Debian: g++ builds the native test drivers; clang + libFuzzer the fuzz targets
# (tests/native/test_fuzz_smoke.py); wrk loads a server while a worker is killed
# (tests/integration/test_chaos.py); chromium renders /docs (tests/integration/test_docs_browser.py).
need=()
command -v g++ >/dev/null || need+=(g++)
command -v clang++ >/dev/null || need+=(clang)
dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || need+=(libclang-rt-14-dev)
command -v wrk >/dev/null || need+=(wrk)
command -v chromium >/dev/null || need+=(chromium)
command -v curl >/dev/null || need+=(curl)
# clang-format checks src/native's formatting (tests/unit/test_static_checks.py)
command -v clang-format >/dev/null || need+=(clang-format)
# nginx in front of the server (tests/integration/test_cli_deployment.py);
# systemd-socket-activate hands it a socket (test_cli_supervisor.py)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v systemd-socket-activate >/dev/null || need+=(systemd)
# OpenSSL: the engine's TLS is built against libssl-dev (pip install below builds the engine);
# the openssl command makes the test certificates (tests/integration/test_tls.py)
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
command -v openssl >/dev/null || need+=(openssl)
# HTTP/2 (nghttp2) and the io_uring loop (liburing; test_loop_backend.py, .ci/run reruns the
# socket tests on it), found by pkg-config at build time; h2load and
# curl's HTTP/2 are the interop clients (tests/integration/test_http2.py)
for p in libnghttp2-dev liburing-dev pkg-config nghttp2-client; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    echo "the test suite needs Debian packages: apt-get install ${need[*]} (as root)" >&2
    exit 2
  fi
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -m pip install -q '.[test]'
exec python3 -m pytest "$@"
