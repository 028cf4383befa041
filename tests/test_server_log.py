"""The teachers' conversation log: off by default, one valid JSON line per turn, hashed sessions, private files."""

from __future__ import annotations

import json
import stat
import threading
from datetime import datetime
from pathlib import Path

from ui.server_log import ServerLog

TURN = dict(mode="steps", question="Solve x^2 = 4 (costs $5) 你好", reply="x = \\pm 2 \\boxed{\\pm 2}",
            badge="✅ Verified by sympy ✓", finish_reason="stop")
FIELDS = {"time", "session", "mode", "question", "reply", "badge", "finish_reason"}


def _lines(directory: Path) -> list[dict]:
    files = sorted(directory.glob("conversations-*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]


def test_off_by_default_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = ServerLog(None)
    assert not log.enabled
    log.record("abc123", **TURN)
    assert list(tmp_path.rglob("*")) == []


def test_on_writes_one_jsonl_line_per_turn_with_the_fields(tmp_path):
    directory = tmp_path / "logs"  # created on first write
    log = ServerLog(directory)
    log.record("session-one", **TURN)
    log.record("session-one", **{**TURN, "finish_reason": "abort", "badge": ""})
    [path] = list(directory.iterdir())
    assert path.name == f"conversations-{datetime.now().astimezone():%Y-%m-%d}.jsonl"
    first, second = _lines(directory)
    assert set(first) == FIELDS
    assert {k: first[k] for k in TURN} == TURN  # text kept exactly, Chinese and "$" included
    assert "你好" in path.read_text(encoding="utf-8")  # UTF-8, not \u escapes
    assert second["finish_reason"] == "abort" and second["badge"] == ""
    assert datetime.fromisoformat(first["time"]).tzinfo is not None


def test_session_is_a_short_salted_hash_not_the_raw_hash(tmp_path):
    log = ServerLog(tmp_path)
    for session in ("tab-aaaa-1111", "tab-aaaa-1111", "tab-bbbb-2222"):
        log.record(session, **TURN)
    a, a_again, b = (line["session"] for line in _lines(tmp_path))
    assert a == a_again != b
    assert len(a) == 12 and "tab-" not in a
    text = (next(tmp_path.iterdir())).read_text(encoding="utf-8")
    assert "tab-aaaa-1111" not in text and "tab-bbbb-2222" not in text
    # Another process (another salt) gives the same tab another id: ids cannot be joined across restarts.
    assert ServerLog(tmp_path).session_id("tab-aaaa-1111") != a


def test_twenty_threads_write_twenty_valid_lines(tmp_path):
    log = ServerLog(tmp_path)
    long_reply = "step " * 5000  # ~25 kB, larger than a pipe buffer, so torn writes would show
    start = threading.Barrier(20)

    def turn(i: int) -> None:
        start.wait()
        log.record(f"tab-{i}", **{**TURN, "question": f"question {i}", "reply": long_reply})

    threads = [threading.Thread(target=turn, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    lines = _lines(tmp_path)
    assert len(lines) == 20
    assert sorted(line["question"] for line in lines) == sorted(f"question {i}" for i in range(20))
    assert all(line["reply"] == long_reply for line in lines)


def test_file_is_private(tmp_path):
    log = ServerLog(tmp_path / "logs")
    log.record("tab", **TURN)
    [path] = list((tmp_path / "logs").iterdir())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
    path.chmod(0o644)  # an existing file with wider permissions is tightened on the next write
    log.record("tab", **TURN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_teacher_password_never_written(tmp_path):
    log = ServerLog(tmp_path, redact=["hunter2-secret", None])
    log.record("tab", **{**TURN, "question": "is the password hunter2-secret?", "reply": "hunter2-secret no"})
    text = next(tmp_path.iterdir()).read_text(encoding="utf-8")
    assert "hunter2-secret" not in text
    assert _lines(tmp_path)[0]["question"] == "is the password [redacted]?"


def test_write_failure_never_reaches_the_student(tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    ServerLog(blocker).record("tab", **TURN)  # mkdir fails: logged, not raised
    assert "could not write" in caplog.text
