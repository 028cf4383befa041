"""The teacher gate: engine-level actions need the teacher password, checked on the server for every action.

The password comes from ``--teacher-password-file`` / ``TUTOR_TEACHER_PASSWORD`` (never a page default, never
logged). Without one, engine controls are locked in the page and only the command line changes the engine.
Comparison is constant-time (``hmac.compare_digest`` on SHA-256 digests, so the length leaks nothing either), and
repeated failures slow down: each failure in a row costs one more second, up to ``MAX_DELAY``, for everyone, so
guessing from many tabs is no faster. Not covered: student identity (students are anonymous).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

MAX_DELAY = 10.0


class TeacherGate:
    def __init__(self, password: str | None, *, step: float = 1.0) -> None:
        self._step = step  # seconds added per failure in a row
        self._digest = hashlib.sha256(password.encode()).digest() if password else None
        self._failures = 0
        self._last_failure = 0.0

    @property
    def enabled(self) -> bool:
        return self._digest is not None

    def __repr__(self) -> str:  # never show the digest in logs or tracebacks
        return f"TeacherGate(enabled={self.enabled})"

    async def check(self, attempt: str | None) -> bool:
        """Whether ``attempt`` is the teacher password. Failures in a row are answered ever more slowly."""
        if self._digest is None or not attempt:
            return False
        delay = min(self._failures * self._step, MAX_DELAY) if time.monotonic() - self._last_failure < 300 else 0.0
        if delay:
            await asyncio.sleep(delay)
        ok = hmac.compare_digest(hashlib.sha256(attempt.encode()).digest(), self._digest)
        if ok:
            self._failures = 0
        else:
            self._failures += 1
            self._last_failure = time.monotonic()
        return ok
