"""The chat page: a Gradio Blocks app built from an engine and a :class:`UIConfig` it is given.

Handlers are thin: they validate the message, let the tutor plan the turn (``tutor.plan_turn``: the mode's system
prompt from ``prompts/``, sympy grounding, Socratic withholding), turn the chat history into engine messages, and
stream the engine's reply through :func:`ui.streaming.coalesce`. Stop cancels the running
event; cancellation closes the engine stream, which aborts the generation inside the engine. Nothing here imports
an engine library or creates an engine: ``app.py`` does. The teacher's engine panel is ``ui.engine_panel``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import gradio as gr

import tutor
from engine.base import Engine, GenParams, new_request_id
from engine.errors import AppError
from engine.switcher import EngineSwitcher
from engine.settings import MAX_MESSAGE_CHARS, MAX_NEW_TOKENS, TEMPERATURE, TOP_P, validate_gen_params
from ui.check_panel import build_check_panel
from ui.render import LATEX_DELIMITERS, message_text, to_display, to_model_text
from ui.streaming import ReplyUpdate, coalesce
from ui.limits import RateLimiter
from ui.teacher import TeacherGate
from ui.tutor_panel import build_tutor_panel
from tutor.modes import STEPS, TutorSettings

WAITING_ROOM = 16  # with a one-at-a-time engine, this many requests wait inside the engine's queue (position shown)

EXAMPLES = [
    "Solve x^2 - 5x + 6 = 0",
    "What is the derivative of x^3 sin(x)?",
    "A pencil costs $0.40 and a pen $1.20. How much do 3 pencils and 2 pens cost?",
    "Explain why the sum of the angles of a triangle is 180°.",
]


@dataclass(frozen=True)
class UIConfig:
    title: str = "Math Tutor"
    yield_interval: float = 0.05  # seconds between updates sent to the browser (see ui.streaming)
    max_message_chars: int = MAX_MESSAGE_CHARS
    requests_per_minute: int = 20  # per browser session; 0 = no limit
    tutor: TutorSettings = field(default_factory=lambda: TutorSettings(default_mode=STEPS))  # teacher's default
    grounded: bool | None = None  # give sympy's result to the model first; None: on for small models
    concurrency_limit: int | None = None  # None: the engine's max_concurrency, at least WAITING_ROOM


def to_engine_messages(system_prompt: str, history: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Chat history (display form) as the model should see it, after the system prompt."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for item in history:
        role = item.get("role")
        text = to_model_text(message_text(item.get("content")))
        if role in ("user", "assistant") and text and not (item.get("metadata") or {}).get("title"):
            messages.append({"role": role, "content": text})
    return messages


def render_reply(update: ReplyUpdate) -> str:
    """What the assistant's bubble shows for an update (display form)."""
    if update.queue_position is not None:
        return f"⏳ Waiting for the model: you are number {update.queue_position} in the queue."
    body = to_display(update.text)
    if update.finish_reason == "length":
        body += "\n\n*(The reply reached the maximum length. Ask me to continue.)*"
    elif update.finish_reason == "abort":
        body += "\n\n*(Stopped.)*"
    elif update.finish_reason == "error":
        body += f"\n\n⚠️ {update.error or 'The model stopped with an error.'} Your message is kept: send it again."
    return body


def user_error(err: BaseException) -> str:
    """The one place an exception becomes a message for the user."""
    if isinstance(err, AppError):
        return str(err)
    return f"Something went wrong ({type(err).__name__}). Please try again."


class ChatHandlers:
    """The page's event handlers, plain async functions over an engine (testable without a browser)."""

    def __init__(self, engine: Engine, config: UIConfig) -> None:
        self.engine = engine
        self.config = config
        self.limiter = RateLimiter(config.requests_per_minute)
        self.bank = tutor.default_bank()
        self.grounded = tutor.grounding_default(engine.info.model) if config.grounded is None else config.grounded
        self._running: dict[str, set[str]] = {}  # session hash -> request ids streaming now

    async def respond(
        self, message: str, history: list[dict[str, Any]] | None, temperature: float, top_p: float,
        max_new_tokens: float, mode: str | None = None, problem_id: str | None = None, released: bool = False,
        raw: list[str] | None = None, grounded: bool | None = None, request: gr.Request | None = None,
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str, bool, list[str]]]:
        """Yield (chat history, textbox text, answer released, unredacted replies) while the reply streams.

        The tutor plans the turn (mode prompt, sympy grounding, Socratic withholding); the reply streams redacted
        where the answer is withheld, and ends with sympy's verdict badge. ``grounded`` is the student's grounding
        checkbox (None: the deployment's default).
        """
        history, raw, released = list(history or []), list(raw or []), bool(released)
        params = self._admit(message, temperature, top_p, max_new_tokens, request)
        if params is None:  # refused with a message; the text stays in the box
            yield history, message or "", released, raw
            return
        text = message.strip()
        problem = self.bank.get(problem_id) if problem_id else None
        asked = [message_text(m.get("content")) for m in history if m.get("role") == "user"]
        question = problem.statement if problem else (
            await asyncio.to_thread(tutor.find_question, [*asked, text]) or text)
        settings = self.config.tutor
        if settings.choose(mode) == tutor.SOCRATIC and not released:
            released = await asyncio.to_thread(tutor.student_answer_released, text, problem=problem,
                                               last_reply=raw[-1] if raw else None, question=question)
        plan = await asyncio.to_thread(tutor.plan_turn, text, settings=settings, requested_mode=mode,
                                       problem=question, released=released,
                                       grounded=self.grounded if grounded is None else bool(grounded))
        messages = to_engine_messages(plan.system_prompt, history) + [{"role": "user", "content": text}]
        history += [{"role": "user", "content": to_display(text)}, {"role": "assistant", "content": "…"}]
        yield history, "", released, raw
        session = getattr(request, "session_hash", None) or "anonymous"
        rid = new_request_id()
        running = self._running.setdefault(session, set())
        running.add(rid)
        full = ""
        try:
            async for update in coalesce(self.engine.stream(messages, params, request_id=rid),
                                         self.config.yield_interval):
                full = update.text
                history[-1] = {"role": "assistant", "content": render_reply(replace(update, text=plan.show(full)))}
                yield history, "", released, raw
                if update.finish_reason is not None:
                    break
        finally:
            running.discard(rid)
            if not running:
                self._running.pop(session, None)
        if full:
            outcome = await asyncio.to_thread(tutor.finish_reply, plan, full)
            if outcome.badge:
                history[-1] = {"role": "assistant", "content": history[-1]["content"] + "\n\n" + outcome.badge}
            yield history, "", released, [*raw, full]

    def _admit(self, message: str | None, temperature: float, top_p: float, max_new_tokens: float,
               request: gr.Request | None) -> GenParams | None:
        """The turn's sampling settings, or ``None`` (after telling the student why) when it is refused."""
        text = (message or "").strip()
        if not text:
            return None
        if len(text) > self.config.max_message_chars:
            gr.Warning(
                f"Your message is {len(text):,} characters long; the limit is {self.config.max_message_chars:,}. "
                "Shorten it and send again (your text is still in the box)."
            )
            return None
        wait = self.limiter.wait_seconds(getattr(request, "session_hash", None) or "anonymous")
        if wait:
            gr.Warning(f"You are sending messages quickly: please wait {wait:.0f} s (your text is still in the box).")
            return None
        try:
            return validate_gen_params(GenParams(float(temperature), float(top_p), int(max_new_tokens)))
        except AppError as err:
            gr.Warning(user_error(err))
            return None

    async def unload(self, request: gr.Request) -> None:
        """The tab closed: abort its generations in the engine (Gradio also cancels the event on disconnect)."""
        for rid in list(self._running.pop(request.session_hash or "", ())):
            await self.engine.abort(rid)

    @staticmethod
    def clear() -> tuple[list[dict[str, Any]], str]:
        return [], ""


def _keep(history: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return list(history or [])


def build_ui(engine: Engine, config: UIConfig | None = None, *, gate: TeacherGate | None = None) -> gr.Blocks:
    """The chat page for ``engine``. The caller launches it (``app.py``, or tests on a free port).

    When ``engine`` is an :class:`EngineSwitcher`, the page gets the teacher's engine panel, locked unless ``gate``
    holds a password.
    """
    config = config or UIConfig()
    handlers = ChatHandlers(engine, config)
    limit = config.concurrency_limit or max(engine.info.max_concurrency, WAITING_ROOM)
    with gr.Blocks(title=config.title, fill_height=True) as demo:
        gr.Markdown(f"## {config.title}")
        status = gr.Markdown(f"**Running:** {engine.info.status_line()}", elem_id="status-line")
        chatbot = gr.Chatbot(
            label="Tutor",
            latex_delimiters=LATEX_DELIMITERS,
            elem_id="chatbot",
            height=520,
            buttons=["copy", "copy_all"],
            placeholder="Ask a math question. Math like $x^2$ or \\(\\frac{1}{2}\\) is rendered.",
        )
        with gr.Row():
            textbox = gr.Textbox(
                placeholder="Type a math question…", show_label=False, scale=6, elem_id="message", lines=1,
                max_lines=8,
            )
            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            stop = gr.Button("Stop", variant="stop", scale=1, elem_id="stop")
            new_chat = gr.Button("New chat", scale=1, elem_id="new-chat")
        build_check_panel(chatbot)
        with gr.Accordion("Reply settings", open=False):
            temperature = gr.Slider(TEMPERATURE.lo, TEMPERATURE.hi, TEMPERATURE.default, step=TEMPERATURE.step,
                                    label="Temperature (0 = always the most likely word)")
            top_p = gr.Slider(TOP_P.lo, TOP_P.hi, TOP_P.default, step=TOP_P.step, label="Top-p")
            max_tokens = gr.Slider(MAX_NEW_TOKENS.lo, MAX_NEW_TOKENS.hi, MAX_NEW_TOKENS.default,
                                   step=MAX_NEW_TOKENS.step, label="Maximum reply length (tokens)")
        gr.Examples(EXAMPLES, inputs=textbox)
        if isinstance(engine, EngineSwitcher):
            from engine.catalog import load_catalog
            from ui.engine_panel import build_engine_panel

            build_engine_panel(engine, gate or TeacherGate(None), load_catalog(), status)

        panel = build_tutor_panel(handlers.bank, config.tutor, grounded=handlers.grounded)
        raw = gr.State([])  # the tutor's unredacted replies, for the answer-release check
        inputs = [textbox, chatbot, temperature, top_p, max_tokens, panel.mode, panel.problem_id, panel.released, raw,
                  panel.grounding]
        outputs = [chatbot, textbox, panel.released, raw]
        submit = textbox.submit(handlers.respond, inputs, outputs, api_name="chat",
                                concurrency_limit=limit, concurrency_id="chat")
        click = send.click(handlers.respond, inputs, outputs, api_visibility="private",
                           concurrency_limit=limit, concurrency_id="chat")
        # The conversation survives a reload: kept in the browser's local storage, restored on load.
        saved = gr.BrowserState([], storage_key="math-tutor-conversation")
        for event in (submit, click):
            event.then(_keep, chatbot, saved, api_visibility="private", queue=False)
        stop.click(None, None, None, cancels=[submit, click], api_visibility="private").then(
            _keep, chatbot, saved, api_visibility="private", queue=False)
        new_chat.click(handlers.clear, None, [chatbot, textbox], cancels=[submit, click], api_name="clear").then(
            _keep, chatbot, saved, api_visibility="private", queue=False)
        demo.load(_keep, saved, chatbot, api_visibility="private", queue=False)
        demo.unload(handlers.unload)
    return demo
