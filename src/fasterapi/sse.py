"""Server-Sent Events (FastAPI's `fastapi.sse`).

A path operation that `yield`s, declared with `response_class=EventSourceResponse`, answers
`text/event-stream`: each yielded `ServerSentEvent` is written as one event, any other value is
JSON-encoded into the event's `data:` field (validated against the item type of an
`AsyncIterable[Item]` / `Iterable[Item]` return annotation when there is one).

The engine sends a response once its body is complete, so events are delivered when the
generator finishes (no keep-alive pings are needed for that).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from .responses import StreamingResponse

__all__ = ["KEEPALIVE_COMMENT", "EventSourceResponse", "ServerSentEvent", "format_sse_event"]


class EventSourceResponse(StreamingResponse):
    """`text/event-stream` streaming response; as `response_class=` it makes a generator
    endpoint's items Server-Sent Events."""

    media_type = "text/event-stream"


def _single_line(value: str | None, what: str) -> str | None:
    if value is not None and ("\n" in value or "\r" in value):
        raise ValueError(f"SSE '{what}' must be a single line")
    return value


def _check_event(value: str | None) -> str | None:
    return _single_line(value, "event")


def _check_id(value: str | None) -> str | None:
    if value is not None and "\0" in value:
        raise ValueError("SSE 'id' must not contain null characters")
    return _single_line(value, "id")


class ServerSentEvent(BaseModel):
    """One event: `data` is JSON-encoded, `raw_data` is sent as is (one of the two)."""

    data: Any = None
    raw_data: str | None = None
    event: Annotated[str | None, AfterValidator(_check_event)] = None
    id: Annotated[str | None, AfterValidator(_check_id)] = None
    retry: Annotated[int | None, Field(ge=0)] = None
    comment: str | None = None

    @model_validator(mode="after")
    def _data_or_raw_data(self) -> ServerSentEvent:
        if self.data is not None and self.raw_data is not None:
            raise ValueError("Cannot set both 'data' and 'raw_data' on the same ServerSentEvent")
        return self


def _lines(value: str) -> list[str]:
    return value.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def format_sse_event(
    *,
    data_str: str | None = None,
    event: str | None = None,
    id: str | None = None,  # noqa: A002 - the SSE field's name
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    """One event in the wire format from already-serialized data; ends with a blank line."""
    lines: list[str] = []
    if comment is not None:
        lines.extend(f": {line}" for line in _lines(comment))
    if event is not None:
        lines.append(f"event: {event}")
    if data_str is not None:
        lines.extend(f"data: {line}" for line in _lines(data_str))
    if id is not None:
        lines.append(f"id: {id}")
    if retry is not None:
        lines.append(f"retry: {retry}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


KEEPALIVE_COMMENT = b": ping\n\n"

# The OpenAPI `itemSchema` of a `text/event-stream` response.
_SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
