"""Per-student limits: how many messages one browser session may send per minute.

A sliding one-minute window per Gradio session hash, in memory (students are anonymous; a reload starts a new
session, which is acceptable for a classroom: the limit stops runaway scripts and double-clicks, not determined
abuse, which the teacher's own network handles). Not covered: message length (``UIConfig.max_message_chars``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def wait_seconds(self, key: str) -> float:
        """0 if ``key`` may send now (and counts it), else how many seconds until it may."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) >= self.per_minute:
            return 60 - (now - times[0])
        times.append(now)
        if len(self._seen) > 10_000:  # forget idle sessions so memory stays bounded
            for k in [k for k, t in self._seen.items() if not t or now - t[-1] >= 60]:
                del self._seen[k]
        return 0.0
