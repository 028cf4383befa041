"""Event handlers whose component data is converted on Gradio's event loop instead of in worker threads.

Gradio passes every input of an event through its component's ``preprocess`` and every output through
``postprocess``, each in a worker thread (``anyio.to_thread.run_sync``): one thread hop per component, in turn. A chat
turn has eight inputs that are not state, so eight hops before the handler runs, and every streamed update one more
for the chat. For text each conversion takes microseconds; the hop is what costs: the loop hands the call to a worker,
the worker waits for the GIL, the loop waits for the worker. With a class streaming at once the loop holds the GIL
most of the time, so each hop waits up to the interpreter's switch interval. :func:`inline_io` registers an event with
``preprocess=False`` and ``postprocess=False`` (Gradio's documented switches) and calls the same component methods
itself, on the loop.

Written by hand because Gradio has no option to keep its own conversion on the loop. What Gradio still does with both
switches off: it validates each input against the component's data model, substitutes ``gr.State`` values, stores
state outputs, applies ``gr.skip()`` and updates, and moves files to its cache.

The same kind of hop guards Gradio's routes: its ``login_check`` dependency (on the queue's join and event stream, the
not-queued ``/run`` calls, the config, files) is a plain ``def``, which FastAPI runs in a worker thread for every
request, three per chat turn. :func:`check_login_on_loop` overrides it, through FastAPI's ``dependency_overrides``,
with an ``async def`` that makes the same decision on the loop.
"""

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from typing import Any

import gradio as gr
from gradio.data_classes import GradioModel, GradioRootModel

log = logging.getLogger(__name__)


# The event switches every handler of this module's kind is registered with (Gradio then leaves the conversion to us).
INLINE = {"preprocess": False, "postprocess": False}


def _is_update(value: Any) -> bool:
    """``gr.skip()`` and ``gr.update(...)``: Gradio applies them itself, without ``postprocess``."""
    return isinstance(value, dict) and value.get("__type__") == "update"


def _converter(component: gr.components.Component | None) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """(preprocess, postprocess) for one component, as Gradio's own path calls them; identity for state."""
    if component is None or component.stateful:  # Gradio substitutes and stores state itself
        return (lambda value: value), (lambda value: value)
    model = getattr(component, "data_model", None)

    def pre(value: Any) -> Any:
        if model is not None and value is not None:
            value = model.model_validate(value, context={"validate_meta": True})
        return component.preprocess(value)

    def post(value: Any) -> Any:
        if _is_update(value):
            return value
        processed = component.postprocess(value)
        return processed.model_dump() if isinstance(processed, (GradioModel, GradioRootModel)) else processed

    return pre, post


def inline_io(fn: Callable[..., AsyncIterator[Sequence[Any]]], inputs: Sequence[Any], outputs: Sequence[Any]
              ) -> Callable[..., AsyncIterator[tuple[Any, ...]]]:
    """``fn`` (an async generator of output tuples, written for Gradio's usual conversions) for an event registered
    with :data:`INLINE` over ``inputs`` and ``outputs``. Gradio sees ``fn``'s signature (so
    ``gr.Request`` is still given); closing the wrapper closes ``fn`` (Stop aborts the generation)."""
    pre = [_converter(c)[0] for c in inputs]
    post = [_converter(c)[1] for c in outputs]

    @functools.wraps(fn)
    async def handler(*args: Any, **kwargs: Any) -> AsyncIterator[tuple[Any, ...]]:
        values = [convert(value) for convert, value in zip(pre, args)] + list(args[len(pre):])
        async with aclosing(fn(*values, **kwargs)) as updates:  # type: ignore[type-var]
            async for update in updates:
                yield tuple(convert(value) for convert, value in zip(post, update, strict=True))

    return handler


def _gradio_login_checks(app: Any) -> set[Callable[..., Any]]:
    """Gradio's ``login_check`` route dependency on ``app`` (one function for every route it guards)."""
    return {dep.dependency for route in app.router.routes for dep in getattr(route, "dependencies", ())
            if getattr(dep.dependency, "__name__", None) == "login_check"}


def check_login_on_loop(app: Any) -> bool:
    """Override Gradio's ``login_check`` route dependency on ``app`` (``demo.app`` once ``demo.launch()`` has made
    it; ``ui.launch`` does this) with an async copy of its decision: let the request through when the app has no
    login (no ``auth``, no ``auth_dependency``) or the request's user is logged in, else 401 with Gradio's message.
    The user still comes from Gradio's own ``get_current_user`` (already async). Returns whether Gradio's dependency
    was found (if a Gradio release renames it, nothing changes: the requests keep their thread hop)."""
    from fastapi import HTTPException, status

    checks = _gradio_login_checks(app)
    if len(checks) != 1:
        log.warning("Gradio's login_check dependency not found (%d candidates): its thread hop stays", len(checks))
        return False
    (sync_check,) = checks
    current_user = inspect.signature(sync_check).parameters["user"].default  # Depends(get_current_user)

    async def login_check(user: str | None = current_user) -> None:
        if (app.auth is None and app.auth_dependency is None) or user is not None:
            return
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED,
                            detail={"error": "Not authenticated", "auth_message": app.get_blocks().auth_message})

    app.dependency_overrides[sync_check] = login_check
    return True


def login_checked_on_loop(app: Any) -> bool:
    """Whether :func:`check_login_on_loop` is in force on ``app`` (the benchmarks record it)."""
    checks = _gradio_login_checks(app)
    return bool(checks) and all(check in app.dependency_overrides for check in checks)
