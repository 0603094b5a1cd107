"""`from fastapi.logger import logger`: the framework's logger, as FastAPI names it."""

import logging

logger = logging.getLogger("fastapi")
