"""The tutoring layer: modes, hint ladder, practice bank and progress, answer release, redaction, CAS grounding.

Pure logic, no Gradio (the panel is ``ui.tutor_panel``). What the chat handler calls:

    settings = TutorSettings(default_mode="socratic", locked=False)   # built once in app.py
    plan, released = prepare_turn(message, earlier_messages, settings=settings, requested_mode=mode, problem=problem,
                                  released=released, last_reply=last_unredacted_reply)   # one call before the reply
    plan.system_prompt / plan.show(partial) / finish_reply(plan, reply) -> ReplyOutcome(display, verification, badge)
    # prepare_turn's steps, also callable alone:
    plan = plan_turn(message, settings=settings, requested_mode=mode, problem=statement, released=released)
    student_answer_released(message, problem=..., cas=plan.cas, last_reply=..., question=...)

And the pieces: ``system_prompt(mode, lang)``, ``redact_final_answer(text, released)``, ``check_steps(lines)``,
``grounding_note(problem)``, ``badge(verification)``, the hint ladder (``tutor.hints``), the bank
(``load_bank``/``default_bank``), progress (``tutor.progress``) and practice actions (``tutor.practice``).
"""

from tutor.bank import DIFFICULTIES, TOPICS, Bank, Problem, default_bank, load_bank
from tutor.grounding import badge, grounding_note
from tutor.hints import LEVELS, HintState
from tutor.modes import CHECK, MODES, SOCRATIC, STEPS, TutorSettings, detect_lang, system_prompt
from tutor.progress import new_progress, record_attempt
from tutor.redact import redact_final_answer
from tutor.steps import StepCheck, StepReport, check_steps
from tutor.grounding import grounding_default
from tutor.turn import (ReplyOutcome, TurnPlan, find_question, finish_reply, plan_turn, prepare_turn,
                        student_answer_released)

__all__ = [
    "CHECK", "DIFFICULTIES", "LEVELS", "MODES", "SOCRATIC", "STEPS", "TOPICS", "Bank", "HintState", "Problem",
    "ReplyOutcome", "StepCheck", "StepReport", "TurnPlan", "TutorSettings", "badge", "check_steps", "default_bank",
    "detect_lang", "find_question", "finish_reply", "grounding_default", "grounding_note", "load_bank", "new_progress",
    "plan_turn", "prepare_turn", "record_attempt", "redact_final_answer", "student_answer_released", "system_prompt",
]
