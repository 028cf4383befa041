"""The tutor panel: mode selector (teacher lock respected), practice problems, hint ladder, answer box, progress.

``build_tutor_panel(bank, settings)`` adds the panel to the Blocks being built and returns a :class:`TutorPanel`
with the components and states the chat needs: ``mode`` (Radio), ``problem_id`` / ``hint_book`` / ``progress``
(``gr.BrowserState``: they survive a reload) and ``released`` (``gr.State``: the current problem's answer may be
shown). Handlers are methods of :class:`PanelHandlers`, thin wrappers over ``tutor.practice`` that take and
return plain values, so tests call them without a browser. Not covered: the chat itself (``ui.chat``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import gradio as gr
from gradio.context import Context

from tutor import hints as ladder
from tutor import practice
from tutor.bank import ANY, DIFFICULTIES, TOPIC_LABELS, Bank, Problem
from tutor.modes import TutorSettings
from tutor.progress import new_progress, summary
from ui.render import LATEX_DELIMITERS

_LABELS = {
    "en": {"title": "Practice and tutor mode", "mode": "Tutor mode", "topic": "Topic", "difficulty": "Difficulty",
           "any_topic": "Any topic", "any": "Any", "new": "New problem", "hint": "Hint", "answer": "Your answer",
           "submit": "Submit answer", "locked": " (set by your teacher)",
           "grounding": "Let sympy work the problem out first and tell the tutor (fewer wrong answers)"},
    "zh": {"title": "练习与辅导模式", "mode": "辅导模式", "topic": "主题", "difficulty": "难度", "any_topic": "全部主题",
           "any": "全部", "new": "换一题", "hint": "提示", "answer": "你的答案", "submit": "提交答案",
           "locked": "（由老师设定）", "grounding": "先让 sympy 算出答案并告诉辅导老师（减少错误答案）"},
}


@dataclass(frozen=True)
class PanelView:
    """Everything the panel shows for the current problem."""

    problem_md: str
    hints_md: str
    progress_md: str
    released: bool


class PanelHandlers:
    """The panel's event handlers over one bank, in one language."""

    def __init__(self, bank: Bank, lang: str = "en") -> None:
        self.bank, self.lang = bank, lang

    def view(self, problem_id: str | None, book: dict[str, Any] | None, progress: dict[str, Any] | None
             ) -> PanelView:
        problem = self.bank.get(problem_id)
        state = ladder.get_state(book, problem.id) if problem else ladder.HintState()
        return PanelView(practice.problem_markdown(problem, self.lang),
                         practice.hints_markdown(problem, state, self.lang),
                         summary(progress, self.lang), bool(problem) and state.released)

    def load(self, problem_id: str | None, book: dict[str, Any] | None, progress: dict[str, Any] | None
             ) -> tuple[str, str, str, bool]:
        """Page load: show the problem, hints and progress kept in the browser."""
        v = self.view(problem_id, book, progress)
        return v.problem_md, v.hints_md, v.progress_md, v.released

    def new_problem(self, topic: str, difficulty: str, progress: dict[str, Any] | None, current: str | None,
                    book: dict[str, Any] | None) -> tuple[str, str, str, str, bool, str]:
        """(problem id, problem, hints, feedback, released, cleared answer box)."""
        problem = practice.new_problem(self.bank, topic, difficulty, progress, current)
        if problem is None:
            return current or "", practice.problem_markdown(self.bank.get(current), self.lang), gr.skip(), \
                practice.message("none", self.lang), gr.skip(), gr.skip()
        v = self.view(problem.id, book, progress)
        return problem.id, v.problem_md, v.hints_md, "", v.released, ""

    def hint(self, problem_id: str | None, book: dict[str, Any] | None) -> tuple[dict[str, Any], str, bool]:
        """(hint book, hints shown, released)."""
        new_book, state, text = practice.take_hint(self.bank.get(problem_id), book, self.lang)
        return new_book, text, state.released

    def submit(self, problem_id: str | None, answer: str, book: dict[str, Any] | None,
               progress: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any], str, str, str, bool]:
        """(hint book, progress, feedback, hints shown, progress line, released)."""
        problem = self.bank.get(problem_id)
        result = practice.submit_answer(problem, answer, book, progress, self.lang)
        return (result.book, result.progress, result.feedback,
                practice.hints_markdown(problem, result.state, self.lang),
                summary(result.progress, self.lang), bool(problem) and result.state.released)

    async def submit_async(self, *args: Any) -> tuple[dict[str, Any], dict[str, Any], str, str, str, bool]:
        return await asyncio.to_thread(self.submit, *args)  # the checker blocks on its worker for a few ms


@dataclass(frozen=True)
class TutorPanel:
    """What ``ui.chat`` wires into its chat handler (inputs/outputs) — see the module docstring."""

    mode: gr.Radio
    problem_id: gr.BrowserState
    hint_book: gr.BrowserState
    progress: gr.BrowserState
    released: gr.State
    grounding: gr.Checkbox  # give sympy's result to the model before it answers ("tool-grounded")
    problem_md: gr.Markdown
    hints_md: gr.Markdown
    feedback_md: gr.Markdown
    progress_md: gr.Markdown
    handlers: PanelHandlers
    bank: Bank
    settings: TutorSettings

    def problem(self, problem_id: str | None) -> Problem | None:
        return self.bank.get(problem_id)


def build_tutor_panel(bank: Bank, settings: TutorSettings | None = None, *, lang: str = "en",
                      open: bool = True, grounded: bool = True) -> TutorPanel:
    """Add the panel to the Blocks being built."""
    settings = settings or TutorSettings()
    words = _LABELS.get(lang, _LABELS["en"])
    handlers = PanelHandlers(bank, lang)
    topics = TOPIC_LABELS.get(lang, TOPIC_LABELS["en"])
    with gr.Accordion(words["title"], open=open, elem_id="tutor-panel"):
        mode = gr.Radio(settings.choices(lang), value=settings.default_mode, elem_id="tutor-mode",
                        label=words["mode"] + (words["locked"] if settings.locked else ""),
                        interactive=not settings.locked)
        grounding = gr.Checkbox(value=grounded, label=words["grounding"], elem_id="tutor-grounding")
        with gr.Row():
            topic = gr.Dropdown([(words["any_topic"], ANY)] + [(topics[t], t) for t in bank.topics()], value=ANY,
                                label=words["topic"], elem_id="tutor-topic", scale=2)
            difficulty = gr.Dropdown([(words["any"], ANY)] + [(d, d) for d in DIFFICULTIES], value=ANY,
                                     label=words["difficulty"], elem_id="tutor-difficulty", scale=1)
            new = gr.Button(words["new"], elem_id="tutor-new", scale=1)
        problem_md = gr.Markdown(practice.problem_markdown(None, lang), elem_id="tutor-problem",
                                 latex_delimiters=LATEX_DELIMITERS)
        with gr.Row():
            answer = gr.Textbox(label=words["answer"], elem_id="tutor-answer", scale=3)
            submit = gr.Button(words["submit"], variant="primary", elem_id="tutor-submit", scale=1)
            hint = gr.Button(words["hint"], elem_id="tutor-hint", scale=1)
        hints_md = gr.Markdown(elem_id="tutor-hints", latex_delimiters=LATEX_DELIMITERS)
        feedback_md = gr.Markdown(elem_id="tutor-feedback", latex_delimiters=LATEX_DELIMITERS)
        progress_md = gr.Markdown(summary(None, lang), elem_id="tutor-progress")
    problem_id = gr.BrowserState("", storage_key="math-tutor-problem")
    hint_book = gr.BrowserState({}, storage_key="math-tutor-hints")
    progress = gr.BrowserState(new_progress(), storage_key="math-tutor-progress")
    released = gr.State(False)

    new.click(handlers.new_problem, [topic, difficulty, progress, problem_id, hint_book],
              [problem_id, problem_md, hints_md, feedback_md, released, answer], api_name="new_problem")
    hint.click(handlers.hint, [problem_id, hint_book], [hint_book, hints_md, released], api_name="hint")
    submit_inputs = [problem_id, answer, hint_book, progress]
    submit_outputs = [hint_book, progress, feedback_md, hints_md, progress_md, released]
    answer.submit(handlers.submit_async, submit_inputs, submit_outputs, api_name="practice_submit",
                  concurrency_limit=8, concurrency_id="practice")
    submit.click(handlers.submit_async, submit_inputs, submit_outputs, api_visibility="private",
                 concurrency_limit=8, concurrency_id="practice")
    demo = Context.root_block  # the Blocks being built: restore what the browser kept when the page loads
    if demo is not None:
        demo.load(handlers.load, [problem_id, hint_book, progress], [problem_md, hints_md, progress_md, released],
                  api_visibility="private", queue=False)
    return TutorPanel(mode, problem_id, hint_book, progress, released, grounding, problem_md, hints_md, feedback_md,
                      progress_md, handlers, bank, settings)
