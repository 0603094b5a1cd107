"""Small helpers with FastAPI's names (`fastapi.utils`)."""

from __future__ import annotations

from typing import Any

import re

from .dependencies.utils import get_path_param_names, is_body_allowed_for_status_code
from .routing import generate_unique_id

__all__ = [
    "deep_dict_update", "generate_operation_id_for_path", "generate_unique_id", "get_path_param_names",
    "get_value_or_default", "is_body_allowed_for_status_code",
]


def generate_operation_id_for_path(*, name: str, path: str, method: str) -> str:
    """FastAPI's older operation id scheme (deprecated there, kept for code that calls it)."""
    operation_id = re.sub(r"\W", "_", f"{name}{path}")
    return f"{operation_id}_{method.lower()}"


def deep_dict_update(main_dict: dict[Any, Any], update_dict: dict[Any, Any]) -> None:
    """Merge `update_dict` into `main_dict`, recursing into dicts and concatenating lists."""
    for key, value in update_dict.items():
        if key in main_dict and isinstance(main_dict[key], dict) and isinstance(value, dict):
            deep_dict_update(main_dict[key], value)
        elif key in main_dict and isinstance(main_dict[key], list) and isinstance(value, list):
            main_dict[key] = main_dict[key] + value
        else:
            main_dict[key] = value


def get_value_or_default(first_item: Any, *extra_items: Any) -> Any:
    from .datastructures import DefaultPlaceholder

    for item in (first_item, *extra_items):
        if not isinstance(item, DefaultPlaceholder):
            return item
    return first_item


__all__ = ["deep_dict_update", "generate_unique_id", "get_value_or_default", "is_body_allowed_for_status_code"]
