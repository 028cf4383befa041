"""The hint ladder and the answer-release rule: one level at a time, per problem, serialisable to a dict."""

from __future__ import annotations

import json

from tutor.hints import LEVELS, MAX_BOOK, HintState, get_state, put_state, record_answer, reveal_next, revealed

TEXTS = ("Look at the constant term.", "Factor the quadratic.", "Find two numbers that multiply to 6.",
         "(x - 2)(x - 3) = 0")


def test_hints_come_one_at_a_time_in_order_and_release_after_the_last() -> None:
    state = HintState("q1")
    names = []
    for i in range(4):
        assert not state.released and state.next_level == LEVELS[i]
        state, hint = reveal_next(state, TEXTS)
        assert hint is not None and hint.text == TEXTS[i] and state.shown == i + 1
        names.append(hint.name)
    assert names == ["nudge", "key_idea", "next_step", "worked_step"]
    assert state.released and state.next_level is None
    again, none = reveal_next(state, TEXTS)
    assert none is None and again == state
    assert [h.label for h in revealed(state, TEXTS, "zh")] == ["提示", "关键思路", "下一步", "示范步骤"]


def test_a_correct_answer_releases_and_a_wrong_one_does_not() -> None:
    state = record_answer(HintState("q1"), correct=False)
    assert not state.released and state.attempts == 1
    state = record_answer(state, correct=True)
    assert state.released and state.solved
    assert record_answer(state, correct=False).released  # once released, it stays released


def test_state_round_trips_through_json_and_tolerates_garbage() -> None:
    state, _ = reveal_next(record_answer(HintState("q7"), False), TEXTS)
    assert HintState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert HintState.from_dict(None, "q1") == HintState("q1")
    assert HintState.from_dict({"shown": "lots"}, "q1") == HintState("q1")
    assert HintState.from_dict({"shown": 99}, "q1").shown == len(LEVELS)
    assert HintState.from_dict({"shown": -3, "attempts": -1}, "q1") == HintState("q1")


def test_hint_book_keeps_hints_per_problem() -> None:
    book: dict = {}
    a, _ = reveal_next(get_state(book, "a"), TEXTS)
    book = put_state(book, a)
    b = get_state(book, "b")
    assert b.shown == 0  # another problem starts fresh
    book = put_state(book, reveal_next(reveal_next(b, TEXTS)[0], TEXTS)[0])
    assert get_state(book, "a").shown == 1 and get_state(book, "b").shown == 2
    assert get_state("not a dict", "a") == HintState("a")  # type: ignore[arg-type]


def test_hint_book_is_bounded_and_forgets_the_oldest() -> None:
    book: dict = {}
    for i in range(MAX_BOOK + 5):
        book = put_state(book, HintState(f"p{i}", shown=1))
    assert len(book) == MAX_BOOK and "p0" not in book and f"p{MAX_BOOK + 4}" in book


def test_hint_requests_for_chat_questions_follow_the_ladder() -> None:
    from tutor.hints import hint_request

    texts = [hint_request(i) for i in range(4)]
    assert len(set(texts)) == 4 and "nudge" in texts[0] and "key idea" in texts[1]
    assert all("final answer" in t or "Do not solve" in t for t in texts)
    assert "提示" in hint_request(0, "zh") and hint_request(9) == texts[3]
