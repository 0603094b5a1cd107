"""FasterAPI: FastAPI's programming model on a C++ engine.

`from fasterapi import FastAPI, Depends, Query, ...` works like the same import from fastapi.
"""

__version__ = "0.1.0"


def get_include() -> str:
    """The directory holding fasterapi_native.h, for building native route handlers."""
    import os

    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")


from . import logger as logger
from . import openapi as openapi
from . import security as security
from . import status as status
from . import types as types
from . import utils as utils
from .applications import FastAPI as FastAPI
from .applications import FasterAPI as FasterAPI
from .background import BackgroundTasks as BackgroundTasks
from .batching import Batch as Batch
from .datastructures import UploadFile as UploadFile
from .exceptions import HTTPException as HTTPException
from .exceptions import WebSocketException as WebSocketException
from .param_functions import Body as Body
from .param_functions import Cookie as Cookie
from .param_functions import Depends as Depends
from .param_functions import File as File
from .param_functions import Form as Form
from .param_functions import Header as Header
from .param_functions import Path as Path
from .param_functions import Query as Query
from .param_functions import Security as Security
from .requests import Request as Request
from .responses import Response as Response
from .routing import APIRouter as APIRouter
from .websockets import WebSocket as WebSocket
from .websockets import WebSocketDisconnect as WebSocketDisconnect

__all__ = [
    "APIRouter",
    "BackgroundTasks",
    "Batch",
    "Body",
    "Cookie",
    "Depends",
    "FastAPI",
    "FasterAPI",
    "File",
    "Form",
    "HTTPException",
    "Header",
    "Path",
    "Query",
    "Request",
    "Response",
    "Security",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "status",
]
