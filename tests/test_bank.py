"""The practice bank is valid data: every reference passes its own checker, wrong answers fail, the file matches
its generator, and a broken bank is refused with a message that names the problem."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import pytest

from checker import check_answer
from engine.errors import SettingsError
from tutor.bank import DIFFICULTIES, TOPICS, default_bank, load_bank, parse_bank
from tutor.generate_bank import generate

BANK = default_bank()


def test_bank_size_and_coverage() -> None:
    assert len(BANK.problems) >= 150
    by_topic = Counter(p.topic for p in BANK.problems)
    assert set(by_topic) == set(TOPICS) and min(by_topic.values()) >= 10
    assert {p.difficulty for p in BANK.problems} == set(DIFFICULTIES)
    assert len({p.id for p in BANK.problems}) == len(BANK.problems)
    assert len({p.statement for p in BANK.problems}) == len(BANK.problems)
    rules = Counter(k for p in BANK.problems for k, _ in p.rules)
    assert rules["form"] and rules["tolerance"] and rules["units_required"]  # every kind of rule is exercised


def test_every_problem_has_four_distinct_hints_that_do_not_give_the_answer_away() -> None:
    for p in BANK.problems:
        assert len(p.hints) == 4 and len(set(p.hints)) == 4, p.id
        assert all(len(h) > 10 for h in p.hints), p.id


@pytest.mark.parametrize("problem", BANK.problems, ids=lambda p: p.id)
def test_reference_passes_its_own_checker_and_the_distractor_fails(problem) -> None:
    verdict = check_answer(problem.answer, problem.answer, **problem.check_rules())
    assert verdict.equivalent, (problem.id, verdict)
    assert problem.distractor
    wrong = check_answer(problem.distractor, problem.answer, **problem.check_rules())
    assert not wrong.equivalent, (problem.id, problem.distractor, wrong)


def _off_by_one(answer: str) -> str | None:
    """A generic near miss: the last integer in the answer changed by one."""
    numbers = list(re.finditer(r"(?<![\^{_\d])\d+(?![\d.])", answer))
    if not numbers:
        return None
    m = numbers[-1]
    return answer[: m.start()] + str(int(m.group()) + 1) + answer[m.end():]


def test_a_sample_of_generic_wrong_answers_fails() -> None:
    sample = random.Random(5).sample(BANK.problems, 60)
    checked = 0
    for p in sample:
        wrong = _off_by_one(p.answer)
        if wrong is None or p.check_rules().get("tolerance"):
            continue
        assert not check_answer(wrong, p.answer, **p.check_rules()).equivalent, (p.id, wrong)
        checked += 1
    assert checked >= 40


def test_the_committed_file_is_what_the_generator_writes() -> None:
    assert json.loads(json.dumps(generate())) == [
        {"id": p.id, "topic": p.topic, "difficulty": p.difficulty, "statement": p.statement, "answer": p.answer,
         "rules": dict(p.rules), "hints": list(p.hints), "distractor": p.distractor} for p in BANK.problems]


def test_filters_and_new_problem() -> None:
    quads = BANK.filter("quadratics", "easy")
    assert quads and all(p.topic == "quadratics" and p.difficulty == "easy" for p in quads)
    assert len(BANK.filter("any", "any")) == len(BANK.problems) == len(BANK.filter())
    rng = random.Random(0)
    current = quads[0].id
    avoid = {p.id for p in quads[1:-1]}
    assert BANK.pick("quadratics", "easy", avoid=avoid, current=current, rng=rng).id == quads[-1].id
    everything = {p.id for p in quads}
    assert BANK.pick("quadratics", "easy", avoid=everything, current=current, rng=rng).id != current
    assert BANK.pick("no-such-topic") is None


def _entry(**changes):
    base = {"id": "p1", "topic": "arithmetic", "difficulty": "easy", "statement": "Compute $2+2$.", "answer": "4",
            "rules": {}, "hints": ["a hint", "an idea", "a step", "a worked step"], "distractor": "5"}
    base.update(changes)
    return base


@pytest.mark.parametrize("changes,message", [
    ({"topic": "astrology"}, "topic must be one of"),
    ({"difficulty": "brutal"}, "difficulty must be one of"),
    ({"hints": ["only one"]}, "exactly four non-empty hints"),
    ({"rules": {"form": "pretty"}}, "form must be one of"),
    ({"rules": {"colour": "red"}}, "Unknown checker rule"),
    ({"answer": ""}, "non-empty text field 'answer'"),
    ({"extra": 1}, "unknown field"),
])
def test_broken_entries_are_refused_with_a_message(changes, message) -> None:
    with pytest.raises(SettingsError, match=message) as err:
        parse_bank([_entry(**changes)])
    assert "'p1'" in str(err.value)


def test_duplicate_ids_and_bad_files(tmp_path) -> None:
    with pytest.raises(SettingsError, match="appears twice"):
        parse_bank([_entry(), _entry()])
    bad = tmp_path / "bank.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid JSON"):
        load_bank(bad)
    with pytest.raises(SettingsError, match="not found"):
        load_bank(tmp_path / "missing.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"problems": [_entry()]}), encoding="utf-8")
    assert load_bank(good).get("p1").answer == "4"
