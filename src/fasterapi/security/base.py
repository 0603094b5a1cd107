"""`SecurityBase`: what makes a dependency a security scheme in the OpenAPI document.

The dependency analysis (`dependencies/utils.py`) records any `Depends(x)` whose `x` is an instance
of this class as a security requirement; the generator then emits `x.model` under
`components/securitySchemes[x.scheme_name]`.
"""

from __future__ import annotations

from ..exceptions import HTTPException
from ..openapi.models import SecurityBase as SecurityBaseModel


class SecurityBase:
    model: SecurityBaseModel
    scheme_name: str


def not_authenticated(www_authenticate: str) -> HTTPException:
    # FastAPI answers every missing or unusable credential with 401 and a challenge header.
    return HTTPException(status_code=401, detail="Not authenticated", headers={"WWW-Authenticate": www_authenticate})
