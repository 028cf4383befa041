"""One chat turn: the prompt the model gets (mode, sympy's result, step report), what the student sees (the
answer withheld in Socratic mode until released) and the sympy badge. Real checker and CAS workers."""

from __future__ import annotations

from tutor.bank import default_bank
from tutor.grounding import grounding_note
from tutor.modes import CHECK, SOCRATIC, STEPS, TutorSettings
from tutor.turn import finish_reply, plan_turn, student_answer_released

SETTINGS = TutorSettings(default_mode=SOCRATIC)
REPLY = r"Factor it: \((x-2)(x-3) = 0\). So \boxed{x = 2 \text{ or } x = 3}."


def test_grounding_note_gives_sympys_answer_in_the_question_language() -> None:
    note = grounding_note("Solve x^2 - 5x + 6 = 0")
    assert note and "sympy" in note and "x = 2" in note and "x = 3" in note
    assert "sympy" in grounding_note("解方程 x^2-5x+6=0") and "答案是" in grounding_note("解方程 x^2-5x+6=0")
    assert grounding_note("Tell me a joke") is None
    assert "\\boxed{x = 2 \\text{ or } x = 3}" in note  # the small model copies the answer into its last line
    socratic = grounding_note("Solve x^2 - 5x + 6 = 0", mode="socratic")
    assert "Do not reveal it" in socratic and "\\boxed" not in socratic


def test_step_by_step_turn_is_grounded_and_verified() -> None:
    plan = plan_turn("Solve x^2 - 5x + 6 = 0", settings=SETTINGS, requested_mode=STEPS)
    assert plan.mode == STEPS and not plan.redact and plan.cas is not None
    assert "Tool result" in plan.system_prompt and "\\boxed" in plan.system_prompt
    outcome = finish_reply(plan, REPLY)
    assert outcome.display == REPLY and outcome.verification.status == "verified"
    assert outcome.badge == "✅ Verified by sympy ✓"
    wrong = finish_reply(plan, r"\boxed{x = 2}")
    assert wrong.verification.status == "disputed" and "sympy disagrees" in wrong.badge and "x = 3" in wrong.badge


def test_grounding_can_be_switched_off() -> None:
    plan = plan_turn("Solve x^2 - 5x + 6 = 0", settings=SETTINGS, requested_mode=STEPS, grounded=False)
    assert "Tool result" not in plan.system_prompt and plan.cas is not None  # still verified afterwards


def test_socratic_turn_withholds_until_released() -> None:
    plan = plan_turn("Solve x^2 - 5x + 6 = 0", settings=SETTINGS)
    assert plan.mode == SOCRATIC and plan.redact
    assert "x = 3" not in plan.show(REPLY)
    outcome = finish_reply(plan, r"\boxed{x = 2}")
    assert "x = 3" not in outcome.badge and "disagrees" in outcome.badge  # the badge does not leak it either
    released = plan_turn("x = 2 or x = 3?", settings=SETTINGS, problem="Solve x^2 - 5x + 6 = 0", released=True)
    assert not released.redact and "earned the answer" in released.system_prompt
    assert finish_reply(released, REPLY).display == REPLY


def test_locked_mode_wins_over_the_students_choice() -> None:
    plan = plan_turn("Solve 2x = 4", settings=TutorSettings(default_mode=SOCRATIC, locked=True),
                     requested_mode=STEPS)
    assert plan.mode == SOCRATIC and plan.redact


def test_check_my_work_turn_carries_the_step_report() -> None:
    plan = plan_turn("2x + 3 = 7\n2x = 10\nx = 5", settings=SETTINGS, requested_mode=CHECK)
    assert plan.steps is not None and plan.steps.first_broken == 1
    assert "line 2" in plan.system_prompt and plan.question == "" and plan.cas is None
    assert finish_reply(plan, "Look at line 2.").badge == ""


def test_student_answer_releases_against_problem_sympy_or_last_reply() -> None:
    problem = default_bank().get("quadratics-01")
    assert student_answer_released(f"I think it's {problem.answer}", problem=problem)
    assert not student_answer_released(problem.distractor, problem=problem)
    plan = plan_turn("Solve x^2 - 5x + 6 = 0", settings=SETTINGS)
    assert student_answer_released("Is it x = 3 or x = 2?", cas=plan.cas, question=plan.question)
    assert not student_answer_released("x = 3?", cas=plan.cas, question=plan.question)  # half the answer
    # restating the equation is not an answer, though it has the same solutions
    assert not student_answer_released("x^2 - 5x + 6 = 0", cas=plan.cas, question=plan.question)
    assert student_answer_released("so 12", last_reply=r"... \boxed{12}")
    assert not student_answer_released("no idea", last_reply=r"... \boxed{12}")


def test_grounding_is_on_by_default_for_small_models() -> None:
    from tutor.grounding import grounding_default

    assert grounding_default("Qwen2.5 Coder 0.5B Instruct AWQ") and grounding_default("Qwen/Qwen2.5-7B-Instruct")
    assert not grounding_default("Qwen2.5-72B-Instruct") and not grounding_default("internlm2_5-20b-chat")
    assert grounding_default("fake-model")  # size unknown: grounded


def test_follow_ups_are_verified_against_the_question_they_follow() -> None:
    from tutor.turn import find_question

    history = ["Solve x^2 - 5x + 6 = 0", "I don't get step 2", "Is it x = 2?"]
    assert find_question(history) == "Solve x^2 - 5x + 6 = 0"
    assert find_question([*history, "Now factor x^2 - 9"]) == "Now factor x^2 - 9"
    assert find_question(["hello", "thanks!"]) is None


def test_prepare_turn_finds_the_question_releases_and_plans_in_one_call() -> None:
    from tutor.turn import prepare_turn

    socratic = TutorSettings(default_mode=SOCRATIC, locked=True)
    asked = ["Solve x^2 - 5x + 6 = 0"]
    plan, released = prepare_turn("I don't get it", asked, settings=socratic)
    assert plan.question == asked[0] and plan.redact and released is False  # the follow-up is about the question
    plan, released = prepare_turn("x = 3 or x = 2", asked, settings=socratic)
    assert released == asked[0] and not plan.redact  # released for this question, by its text
    plan, released = prepare_turn("thanks, and why?", [*asked, "x = 3 or x = 2"], settings=socratic,
                                  released=released)
    assert released == asked[0] and not plan.redact  # still the question: still released
    plan, released = prepare_turn("Solve 2x = 4", [*asked, "x = 3 or x = 2"], settings=socratic, released=released)
    assert released is False and plan.redact and plan.question == "Solve 2x = 4"  # a new question withholds again
    problem = default_bank().problems[0]
    plan, released = prepare_turn(f"is it {problem.answer}?", [], settings=socratic, problem=problem)
    assert released is True and plan.question == problem.statement  # a practice problem: released as True
    plan, released = prepare_turn("Solve x^2 - 5x + 6 = 0", [], settings=SETTINGS, requested_mode=STEPS,
                                  grounded=False)
    assert released is False and "Tool result" not in plan.system_prompt and plan.cas is not None
