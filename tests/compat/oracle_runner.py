"""Run by the FastAPI oracle's interpreter (never by our tests' process): prints the OpenAPI
documents of the apps in a data module, with `fasterapi` rewritten to `fastapi`.

usage: python oracle_runner.py PATH/TO/module.py
"""

import json
import sys
import types
import warnings


def main() -> None:
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        source = f.read().replace("fasterapi", "fastapi")
    module = types.ModuleType("oracle_apps")
    module.__file__ = path
    sys.modules["oracle_apps"] = module
    warnings.simplefilter("ignore")
    exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 - our own test data
    documents = {name: factory().openapi() for name, factory in module.APPS.items()}
    json.dump(documents, sys.stdout)


if __name__ == "__main__":
    main()
