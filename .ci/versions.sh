#!/usr/bin/env bash
# CI: the OLDEST end of the supported FastAPI/Starlette range (docs/compatibility.md "Supported
# versions"). The main step (the README's test command) installs the newest versions pip picks
# inside pyproject's bounds; this step installs the lower bounds of pyproject's `fastapi>=` and
# `starlette>=` pins exactly, in a fresh venv, builds and installs this checkout into it with the
# test extras, and runs tests/compat + tests/unit against that. Extra arguments go to pytest.
#   FASTERAPI_FLOOR_FASTAPI / FASTERAPI_FLOOR_STARLETTE override the versions (e.g. to try one).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The floors, read from pyproject.toml so that the bounds and what CI tests cannot drift apart.
read -r fastapi_floor starlette_floor < <(python3 - <<'EOF'
import re, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
def floor(name):
    for d in deps:
        m = re.fullmatch(rf"{name}\s*>=\s*([0-9][0-9.]*)\s*(,.*)?", d.strip())
        if m:
            return m.group(1)
    raise SystemExit(f"pyproject.toml: no '{name}>=X' dependency")
print(floor("fastapi"), floor("starlette"))
EOF
)
fastapi_floor=${FASTERAPI_FLOOR_FASTAPI:-$fastapi_floor}
starlette_floor=${FASTERAPI_FLOOR_STARLETTE:-$starlette_floor}
echo "== oldest supported versions: fastapi==$fastapi_floor starlette==$starlette_floor"
venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
# One resolve: the package with its test extras, FastAPI and Starlette held at the floors. The
# extension is built in its own folder (not build/{wheel_tag}, which the main step's and the
# sanitizer step's builds use).
"$venv/bin/pip" install -q "fastapi==$fastapi_floor" "starlette==$starlette_floor" \
  -C build-dir="build/versions-{wheel_tag}" ".[test]"
"$venv/bin/python" - "$fastapi_floor" "$starlette_floor" <<'EOF'
import sys, fastapi, starlette, pydantic, fasterapi
from packaging.version import Version
want_f, want_s = map(Version, sys.argv[1:3])
print(f"fastapi {fastapi.__version__}, starlette {starlette.__version__}, pydantic {pydantic.__version__}, "
      f"fasterapi from {fasterapi.__file__}")
assert Version(fastapi.__version__) == want_f and Version(starlette.__version__) == want_s, "not the floors"
assert "site-packages" in fasterapi.__file__, "fasterapi must come from the venv, not the checkout"
EOF
# From the checkout root: `import fasterapi` finds the installed package (src/ is not on the path).
# pyproject's addopts adds -q: one -q here would make it -qq, which drops pytest's closing counts.
rc=0
timeout 900 "$venv/bin/python" -m pytest tests/compat tests/unit -p no:cacheprovider "$@" || rc=$?
exit $rc
