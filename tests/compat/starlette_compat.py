"""`StarletteHTTPException` from wherever this run gets it (FasterAPI, or Starlette in reference mode)."""

import sys

if "fastapi" in sys.modules and sys.modules.get("fasterapi") is sys.modules["fastapi"]:
    from starlette.exceptions import HTTPException as StarletteHTTPException
else:
    from fasterapi.exceptions import StarletteHTTPException

__all__ = ["StarletteHTTPException"]
