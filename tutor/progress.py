"""Per-student practice progress as a plain dict (the page keeps it in ``gr.BrowserState``, so it survives a reload).

    {"attempted": int, "correct": int, "streak": int, "best_streak": int,
     "solved": [problem ids], "tried": [problem ids], "by_topic": {topic: {"attempted": n, "correct": n}}}

``attempted`` counts problems tried at least once, ``correct`` problems solved; ``streak`` counts answers
checked in a row that were right (a wrong answer resets it). A problem counts once however often it is tried.
:func:`normalise` accepts whatever the browser sends back (old, partial or tampered data) and returns a clean dict.
Every function returns a new dict. Not covered: storage (the UI), hints (``tutor.hints``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_IDS = 1000  # ids remembered per list


def new_progress() -> dict[str, Any]:
    return {"attempted": 0, "correct": 0, "streak": 0, "best_streak": 0, "solved": [], "tried": [], "by_topic": {}}


def _count(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(str(v) for v in value if isinstance(v, (str, int))))[-MAX_IDS:]


def normalise(progress: Mapping[str, Any] | None) -> dict[str, Any]:
    """A clean progress dict from whatever was stored (unknown keys dropped, counts made consistent)."""
    clean = new_progress()
    if not isinstance(progress, Mapping):
        return clean
    clean["tried"] = _ids(progress.get("tried"))
    clean["solved"] = [i for i in _ids(progress.get("solved"))]
    clean["tried"] = list(dict.fromkeys(clean["tried"] + clean["solved"]))[-MAX_IDS:]
    clean["attempted"] = max(_count(progress.get("attempted")), len(clean["tried"]))
    clean["correct"] = min(max(_count(progress.get("correct")), len(clean["solved"])), clean["attempted"])
    clean["streak"] = _count(progress.get("streak"))
    clean["best_streak"] = max(_count(progress.get("best_streak")), clean["streak"])
    topics = progress.get("by_topic")
    if isinstance(topics, Mapping):
        for topic, counts in topics.items():
            if isinstance(topic, str) and isinstance(counts, Mapping):
                attempted = _count(counts.get("attempted"))
                clean["by_topic"][topic] = {"attempted": attempted,
                                            "correct": min(_count(counts.get("correct")), attempted)}
    return clean


def record_attempt(progress: Mapping[str, Any] | None, problem_id: str, topic: str, correct: bool) -> dict[str, Any]:
    """Progress after the student's answer to ``problem_id`` was checked."""
    new = normalise(progress)
    first_try = problem_id not in new["tried"]
    first_solve = correct and problem_id not in new["solved"]
    topic_counts = dict(new["by_topic"].get(topic, {"attempted": 0, "correct": 0}))
    if first_try:
        new["tried"] = (new["tried"] + [problem_id])[-MAX_IDS:]
        new["attempted"] += 1
        topic_counts["attempted"] += 1
    if first_solve:
        new["solved"] = (new["solved"] + [problem_id])[-MAX_IDS:]
        new["correct"] += 1
        topic_counts["correct"] += 1
    new["by_topic"][topic] = topic_counts
    new["streak"] = new["streak"] + 1 if correct else 0
    new["best_streak"] = max(new["best_streak"], new["streak"])
    return new


def summary(progress: Mapping[str, Any] | None, lang: str = "en") -> str:
    """One line of Markdown for the progress display."""
    p = normalise(progress)
    if lang == "zh":
        return (f"已尝试 **{p['attempted']}** 题 · 答对 **{p['correct']}** 题 · 连续答对 **{p['streak']}** 次"
                f"（最佳 {p['best_streak']}）")
    return (f"Attempted **{p['attempted']}** · correct **{p['correct']}** · streak **{p['streak']}** "
            f"(best {p['best_streak']})")
