"""Explicit adaptive micro-batching: one handler call for many requests.

    class Item(BaseModel): ...
    class Out(BaseModel): ...

    @app.post("/predict", batch=Batch(max_size=32, max_wait_ms=5))
    def predict(items: list[Item]) -> list[Out]:
        return model(items)

Each request carries one `Item` (its body, validated on arrival: an invalid body gets its own 422
and never joins a batch). The engine collects valid requests from every connection in C++ and calls
the handler once per batch with the list; result `i` answers request `i`. A batch leaves when it
has `max_size` requests or its oldest request has waited `max_wait_ms` -- so under light load a
request waits at most `max_wait_ms`, and under heavy load batches fill up (adaptive). At most
`concurrency` batches of a route run at once: the next batch keeps filling meanwhile.

- `def` handlers run on the engine's native worker threads (the loop keeps collecting),
  `async def` handlers on the loop. `on_loop=True` runs a `def` handler on the loop thread too
  (for handlers that must not leave it); it is not faster: in benchmarks/batching.py it was about
  as fast as the pool on a quiet machine, even for a handler that holds the GIL all along, and
  slower on a loaded one (the loop parses nothing while the handler runs).
- An exception answers every request of the batch: an HTTPException with its status and detail,
  anything else 500 (through the app's exception handlers).
- Requests whose client went away before their batch started are dropped, not computed.
- `timeout_ms`: a request not answered within it gets 503 (its result, if it comes later, is dropped).
- OpenAPI describes the route per request: body `Item`, response `Out`.
- `app.batch_stats("/predict")`: batch sizes, waits (enqueue to batch start) and run times.

Apps served through Python routing (with middleware) run a batch route per request (batches of one).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_args, get_origin, get_type_hints


@dataclass(frozen=True)
class Batch:
    max_size: int = 32
    max_wait_ms: float = 5.0
    concurrency: int = 1
    timeout_ms: float | None = None
    on_loop: bool = False

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise ValueError("Batch.max_size must be >= 1")
        if self.max_wait_ms < 0:
            raise ValueError("Batch.max_wait_ms must be >= 0")
        if self.concurrency < 1:
            raise ValueError("Batch.concurrency must be >= 1")
        if self.timeout_ms is not None and self.timeout_ms <= 0:
            raise ValueError("Batch.timeout_ms must be > 0 (or None)")


_LIST_TYPES = (list, Sequence, tuple)


def _element(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (list, tuple) or origin is Sequence or (
        origin is not None and getattr(origin, "__name__", "") in ("Sequence", "List")
    ):
        args = get_args(annotation)
        if args:
            return args[0]
    return None


def per_item_endpoint(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The per-request view of a batch handler: `f(item: Item) -> Out` calling `endpoint([item])[0]`.

    Route analysis (parameters, 422s, OpenAPI, response model) works on it; the engine calls the
    real handler with whole batches.
    """
    sig = inspect.signature(endpoint)
    params = list(sig.parameters.values())
    if len(params) != 1 or params[0].kind not in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.POSITIONAL_ONLY
    ):
        raise TypeError(
            f"a batch handler takes exactly one parameter, the list of request bodies "
            f"(e.g. `def {getattr(endpoint, '__name__', 'handler')}(items: list[Item])`)"
        )
    try:
        hints = get_type_hints(endpoint, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolved forward references: use the raw annotations
        hints = {}
    param = params[0]
    annotation = hints.get(param.name, param.annotation)
    item_type = _element(annotation)
    if item_type is None:
        raise TypeError(f"the batch handler's parameter {param.name!r} must be annotated list[Item]")
    returns = hints.get("return", sig.return_annotation)
    out_type = _element(returns) if returns is not inspect.Signature.empty else None

    if inspect.iscoroutinefunction(endpoint):
        async def one(**kwargs: Any) -> Any:
            return (await endpoint([kwargs[param.name]]))[0]
    else:
        def one(**kwargs: Any) -> Any:  # type: ignore[misc]
            return endpoint([kwargs[param.name]])[0]

    functools.update_wrapper(one, endpoint)
    del one.__wrapped__  # type: ignore[attr-defined]  # the signature below is the one to read
    one.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [param.replace(annotation=item_type, kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)],
        return_annotation=out_type if out_type is not None else inspect.Signature.empty,
    )
    ann = {param.name: item_type}
    if out_type is not None:
        ann["return"] = out_type
    one.__annotations__ = ann
    one.__batch_endpoint__ = endpoint  # type: ignore[attr-defined]
    return one
