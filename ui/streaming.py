"""Turns an engine's token stream into the few updates a browser needs.

Yielding to Gradio on every token caps one process near 2,000 tokens/s across users; yielding at most every
``interval`` seconds (50 ms by default) lifts that ceiling about sixfold without a visible difference. With many
replies streaming at once, :func:`shared_interval` stretches the interval so that the whole process sends a
bounded number of updates per second (each update costs the server's event loop the same, whatever its size).
The first text is passed on at once (time to first token) and the end always is. Not covered: how the text is
displayed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from engine.base import Chunk
from engine.errors import AppError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyUpdate:
    text: str  # the whole reply so far
    tokens: int  # tokens so far
    queue_position: int | None = None  # waiting for a free slot (1 = next)
    finish_reason: str | None = None  # set on the last update
    error: str | None = None


def shared_interval(base: float, streams: int, updates_per_second: float) -> float:
    """Seconds between one reply's updates when ``streams`` replies share ``updates_per_second`` (never below
    ``base``; ``updates_per_second <= 0`` means no sharing)."""
    if updates_per_second <= 0:
        return base
    return max(base, streams / updates_per_second)


async def coalesce(chunks: AsyncIterator[Chunk], interval: float | Callable[[], float] = 0.05
                   ) -> AsyncIterator[ReplyUpdate]:
    """Accumulate chunks into :class:`ReplyUpdate`s, at most one per ``interval`` (plus the first and the last).

    ``interval`` may be a function, asked before each update (see :func:`shared_interval`). Closing this iterator
    (e.g. Gradio cancelling the task on Stop) closes ``chunks``, which aborts the generation in the engine.
    """
    text, tokens, last, sent_text = "", 0, 0.0, False
    position: int | None = None
    try:
        async with aclosing(chunks) as stream:
            async for chunk in stream:
                text += chunk.text
                tokens += chunk.tokens
                if chunk.finish_reason is not None:
                    yield ReplyUpdate(text, tokens, None, chunk.finish_reason, chunk.error)
                    return
                if chunk.queue_position is not None and chunk.queue_position != position:
                    position = chunk.queue_position
                    yield ReplyUpdate(text, tokens, position)
                    continue
                if chunk.queue_position is None:
                    position = None
                now = time.monotonic()
                if chunk.text and (not sent_text or now - last >= (interval() if callable(interval) else interval)):
                    sent_text, last = True, now
                    yield ReplyUpdate(text, tokens)
    except Exception as err:  # the engine crashed mid-reply: end this reply with a notice; the next one works
        log.exception("engine stream failed")
        yield ReplyUpdate(text, tokens, None, "error", crash_message(err))
        return
    # The engine ended without a final chunk: report what we have.
    yield ReplyUpdate(text, tokens, None, "stop")


def crash_message(err: BaseException) -> str:
    """What the student reads when the engine raised instead of ending the reply with an error chunk."""
    if isinstance(err, AppError):
        return str(err)
    return f"The model stopped unexpectedly ({type(err).__name__})."
