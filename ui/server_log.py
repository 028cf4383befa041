"""An optional conversation log for teachers, off unless a directory is given (``--log-dir`` / ``TUTOR_LOG_DIR``).

    log = ServerLog(Path("logs"))     # ServerLog(None): does nothing
    log.record(request.session_hash, mode="steps", question=..., reply=..., badge=..., finish_reason="stop")

One JSON line per finished turn goes to ``<dir>/conversations-YYYY-MM-DD.jsonl`` (local date), created with mode
0600 in a 0700 folder: ``time``, ``session`` (a salted hash of Gradio's session hash; the salt is random per
process and never written, so the id groups one tab's turns without naming the tab, and cannot be joined across
restarts), ``mode``, ``question``, ``reply``, ``badge``, ``finish_reason``. Strings given as ``redact`` (the
teacher password) are replaced before writing. Writes are serialised by a lock; a failed write is logged as a
warning and never reaches the student.

Not covered: rotation or deletion of old files, reading the log back, anything in the browser (the chat page keeps
its own copy in local storage).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

logger = logging.getLogger(__name__)

REDACTED = "[redacted]"
SESSION_ID_CHARS = 12


class ServerLog:
    """Appends finished turns to a daily JSONL file; every method is a no-op when ``directory`` is ``None``."""

    def __init__(self, directory: Path | None, *, redact: Iterable[str | None] = ()) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._redact = tuple(s for s in redact if s)
        self._salt = secrets.token_bytes(16)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def session_id(self, session_hash: str | None) -> str:
        """A short id for a Gradio session hash: HMAC-SHA256 under this process's random salt."""
        digest = hmac.new(self._salt, (session_hash or "anonymous").encode(), hashlib.sha256).hexdigest()
        return digest[:SESSION_ID_CHARS]

    def record(self, session_hash: str | None, *, mode: str, question: str, reply: str, badge: str,
               finish_reason: str | None) -> None:
        """Append one turn. Does nothing when the log is off; never raises."""
        if self.directory is None:
            return
        now = datetime.now().astimezone()
        entry = {
            "time": now.isoformat(timespec="seconds"),
            "session": self.session_id(session_hash),
            "mode": mode,
            "question": self._scrub(question),
            "reply": self._scrub(reply),
            "badge": badge,
            "finish_reason": finish_reason,
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        path = self.directory / f"conversations-{now:%Y-%m-%d}.jsonl"
        try:
            with self._lock:
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.fchmod(fd, 0o600)  # also when the file existed with wider permissions
                    os.write(fd, line.encode("utf-8"))
                finally:
                    os.close(fd)
        except OSError as err:
            logger.warning("conversation log: could not write %s: %s", path, err)

    def _scrub(self, text: str) -> str:
        for secret in self._redact:
            text = text.replace(secret, REDACTED)
        return text
