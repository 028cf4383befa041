"""One chat turn in tutor terms, for the chat handler: what to tell the model before, what to show after.

    plan, released = prepare_turn(message, earlier_user_messages, settings=..., requested_mode=..., problem=...,
                                  released=..., last_reply=..., grounded=...)   # the chat handler's one call
    # which is, step by step:
    question = statement or find_question([*earlier_user_messages, message])
    plan = plan_turn(message, settings=..., requested_mode=..., problem=question, released=..., grounded=...)
    plan.system_prompt            # mode prompt + notes (sympy's result, the step report, "answer released")
    plan.show(partial_reply)      # while streaming: the final answer hidden in Socratic mode until released
    outcome = finish_reply(plan, reply)   # .display, .verification, .badge
    student_answer_released(message, problem=..., cas=plan.cas, last_reply=...)   # Socratic release in chat

``prepare_turn``, ``plan_turn`` and ``finish_reply`` block on the checker's worker processes (a few ms; sympy up
to its time limit): call them from a thread (``asyncio.to_thread``) in async handlers. Not covered: Gradio (``ui/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from checker import check_answer, extract_final_answer
from checker.cas_recognize import math_runs
from checker.cas_result import CasResult
from checker.verify import Verification, compute, verify_solution
from tutor.bank import Problem
from tutor.grounding import badge, grounding_note
from tutor.modes import CHECK, SOCRATIC, TutorSettings, detect_lang, released_note, system_prompt
from tutor.redact import redact_final_answer
from tutor.steps import StepReport, check_steps

MAX_LOOKBACK = 6  # user messages searched for the current question
MAX_STUDENT_ANSWER = 300  # characters of a chat message read as a proposed answer


@dataclass(frozen=True)
class TurnPlan:
    mode: str
    lang: str
    system_prompt: str
    question: str  # what the reply is verified against ("" when nothing)
    cas: CasResult | None  # sympy's answer to ``question`` (None: not understood)
    steps: StepReport | None  # check-my-work report
    redact: bool  # Socratic and not released

    def show(self, text: str) -> str:
        """The reply as the student may see it now (streaming-safe)."""
        return redact_final_answer(text, released=not self.redact, lang=self.lang)


@dataclass(frozen=True)
class ReplyOutcome:
    display: str  # the reply, redacted when the answer is withheld
    verification: Verification
    badge: str  # "" when sympy cannot tell


def find_question(user_messages: Sequence[str]) -> str | None:
    """The conversation's current question: the latest user message that sympy understands (so a follow-up like
    "is it x = 2?" is verified against the question it follows), or ``None``."""
    for text in reversed(list(user_messages)[-MAX_LOOKBACK:]):
        if text and compute(text) is not None:
            return text
    return None


def plan_turn(message: str, *, settings: TutorSettings, requested_mode: str | None = None,
              problem: str | None = None, released: bool = False, grounded: bool = True,
              lang: str | None = None) -> TurnPlan:
    """Prepare a turn. ``problem``: the active practice problem's statement, else the conversation's question
    (:func:`find_question`), else the message itself is the question; ``grounded``: give sympy's result to the
    model (``tutor.grounding.grounding_default``: on for small models)."""
    lang = lang or detect_lang(message)
    mode = settings.choose(requested_mode)
    notes: list[str] = []
    steps = None
    cas = None
    question = problem or ("" if mode == CHECK else message)
    if mode == CHECK:
        steps = check_steps(message)
        notes.append(steps.note(lang))
    if question:
        cas = compute(question)
        if grounded and cas is not None:
            note = grounding_note(question, lang, result=cas, mode=mode)
            if note:
                notes.append(note)
    if mode == SOCRATIC and released:
        notes.append(released_note(lang))
    prompt = "\n\n".join([system_prompt(mode, lang), *notes])
    return TurnPlan(mode, lang, prompt, question, cas, steps, redact=mode == SOCRATIC and not released)


def prepare_turn(message: str, earlier: Sequence[str], *, settings: TutorSettings, requested_mode: str | None = None,
                 problem: Problem | None = None, released: bool | str = False, last_reply: str | None = None,
                 grounded: bool = True) -> tuple[TurnPlan, bool | str]:
    """Everything the tutor does before the model answers, in one call (the chat handler makes one trip to a
    worker thread for it, not one per step: under a burst of questions each trip waits its turn for a thread).

    ``earlier``: the conversation's earlier user messages; ``problem``: the active practice problem;
    ``released``: True (the practice problem's answer may be shown), the text of the question whose answer was
    released, or False; ``last_reply``: the tutor's last unredacted reply. Finds the question (the problem's
    statement, else :func:`find_question`, else the message), decides whether this message releases a Socratic
    answer (:func:`student_answer_released`), and plans the turn (:func:`plan_turn`). Returns ``(plan,
    released)``, ``released`` updated in the same form: a question typed in the chat keeps its answer released
    only while it stays the question."""
    text = message.strip()
    found = None if problem else find_question([*earlier, text])
    question = problem.statement if problem else (found or text)
    if problem is None and isinstance(released, str) and released != question:
        released = False  # released for an earlier question only
    if settings.choose(requested_mode) == SOCRATIC and not released:
        # Checked against the problem's answer, else sympy's answer to the question, else the tutor's last reply
        # (a Socratic reply seldom states the answer: sympy's is what a correct student's answer must match).
        # Math copied from the question is not an answer; when sympy found no question, the recent messages
        # stand for it (not this one, which holds the student's answer).
        ok = student_answer_released(text, problem=problem, cas=None if problem else compute(question),
                                     last_reply=last_reply,
                                     question=problem.statement if problem else (found or "\n".join(earlier[-6:])))
        released = (True if problem else question) if ok else False
    plan = plan_turn(text, settings=settings, requested_mode=requested_mode, problem=question,
                     released=bool(released), grounded=grounded)
    return plan, released


def finish_reply(plan: TurnPlan, reply: str) -> ReplyOutcome:
    """After the stream ends: verify the final answer with sympy and build what the bubble shows."""
    if plan.cas is None:
        verification = Verification("unknown", None, extract_final_answer(reply or ""))
    else:
        verification = verify_solution(plan.question, reply, result=plan.cas)
    return ReplyOutcome(plan.show(reply), verification, badge(verification, plan.lang, released=not plan.redact))


def _proposed(message: str) -> list[str]:
    """What the student proposes as an answer: a marked final answer, else the message's math runs (last first)."""
    marked = extract_final_answer(message)
    if marked:
        return [marked]
    if len(message) > MAX_STUDENT_ANSWER:
        return []
    runs = math_runs(message)
    joined = [" or ".join(runs)] if len(runs) > 1 else []  # "x = 3 or x = 2": the words split the runs
    return [message.strip(), *joined, *reversed(runs)][:5]


def _squash(text: str) -> str:
    return "".join(text.split()).replace("$", "").replace("\\(", "").replace("\\)", "")


def student_answer_released(message: str, *, problem: Problem | None = None, cas: CasResult | None = None,
                            last_reply: str | None = None, question: str = "") -> bool:
    """True when the student's message states an answer that checks out against the practice problem's answer,
    else sympy's answer, else the final answer of the tutor's last (unredacted) reply. Math copied from the
    question itself (``question``, or the problem's statement) is not an answer: restating ``x^2 = 9`` must not
    release ``x = ±3``."""
    asked = _squash(problem.statement if problem is not None else question)
    if problem is not None:
        references, rules = [problem.answer], problem.check_rules()
    elif cas is not None:
        references, rules = list(cas.references), ({"form": cas.form} if cas.form else {})
    else:
        final = extract_final_answer(last_reply or "")
        references, rules = ([final] if final else []), {}
    for answer in _proposed(message or ""):
        if asked and len(_squash(answer)) >= 3 and _squash(answer) in asked:
            continue
        for reference in references:
            if check_answer(answer, reference, **rules).equivalent:
                return True
    return False
