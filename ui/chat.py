"""The chat page: a Gradio Blocks app built from an engine and a :class:`UIConfig` it is given.

Handlers are thin: they validate the message, let the tutor plan the turn (``tutor.plan_turn``: the mode's system
prompt from ``prompts/``, sympy grounding, Socratic withholding), turn the chat history into engine messages, and
stream the engine's reply through :func:`ui.streaming.coalesce`. Stop cancels the running
event; cancellation closes the engine stream, which aborts the generation inside the engine. Nothing here imports
an engine library or creates an engine: ``app.py`` does. The panels live in their own modules: the teacher's
engine panel (``ui.engine_panel``), classroom view (``ui.teacher_view``), export (``ui.export``), the tutor panel
and the check box.
"""

# No ``from __future__ import annotations`` here: Gradio reads the handlers' type hints on every call
# (gradio.helpers.special_args -> typing.get_type_hints), and string annotations would be evaluated each time
# (a py-spy profile of the server with 64 students on the fake engine: 16 % of the event loop's samples, its
# largest single cost).
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import gradio as gr

import tutor
from engine.base import Engine, GenParams, new_request_id
from engine.errors import AppError
from engine.metrics import MeteredEngine
from engine.switcher import EngineSwitcher
from engine.settings import MAX_MESSAGE_CHARS, MAX_NEW_TOKENS, TEMPERATURE, TOP_P, validate_gen_params
from ui.check_panel import build_check_panel
from ui.export import build_export_row
from ui.inline import INLINE, check_login_on_loop, inline_io
from ui.render import LATEX_DELIMITERS, message_text, to_display, to_model_text
from ui.streaming import ReplyUpdate, coalesce, shared_interval
from ui.limits import RateLimiter
from ui.server_log import ServerLog
from ui.teacher import TeacherGate
from ui.teacher_view import build_teacher_view
from ui.tutor_panel import build_tutor_panel
from tutor.modes import STEPS, TutorSettings

WAITING_ROOM = 16  # with a one-at-a-time engine, this many requests wait inside the engine's queue (position shown)
FIRST_TEXT_WAIT = 0.15  # seconds the student's message waits for the reply's first text, to go out with it
FINAL_CHECK_WAIT = 0.3  # seconds the end of a reply waits for sympy's badge before it is shown without it

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
    updates_per_second: float = 250  # for the whole process: many streams -> fewer updates each (0 = no limit)
    max_message_chars: int = MAX_MESSAGE_CHARS
    requests_per_minute: int = 20  # per browser session; 0 = no limit
    tutor: TutorSettings = field(default_factory=lambda: TutorSettings(default_mode=STEPS))  # teacher's default
    grounded: bool | None = None  # give sympy's result to the model first; None: on for small models
    concurrency_limit: int | None = None  # None: the engine's max_concurrency, at least WAITING_ROOM


# What the app adds under a reply (see render_reply and tutor.grounding.BADGES): notices and sympy's badge are for
# the student, so they are taken off before the history goes back to the model.
_APP_NOTES = ("*(The reply reached the maximum length.", "*(Stopped.)*", "⚠️ ", "✅ ", "❌ ")


def strip_app_notes(text: str) -> str:
    """The reply without the app's trailing notes and badge (each is a paragraph of its own at the end)."""
    paragraphs = text.split("\n\n")
    while len(paragraphs) > 1 and paragraphs[-1].startswith(_APP_NOTES):
        paragraphs.pop()
    return "\n\n".join(paragraphs)


def to_engine_messages(system_prompt: str, history: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Chat history (display form) as the model should see it, after the system prompt."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for item in history:
        role = item.get("role")
        text = message_text(item.get("content"))
        text = to_model_text(strip_app_notes(text) if role == "assistant" else text)
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

    def __init__(self, engine: Engine, config: UIConfig, log: ServerLog | None = None) -> None:
        self.engine = engine
        self.config = config
        self.log = log or ServerLog(None)  # the optional teachers' log (off unless --log-dir)
        self.limiter = RateLimiter(config.requests_per_minute)
        self.bank = tutor.default_bank()
        self.grounded = tutor.grounding_default(engine.info.model) if config.grounded is None else config.grounded
        self._running: dict[str, set[str]] = {}  # session hash -> request ids streaming now

    async def respond(
        self, message: str, history: list[dict[str, Any]] | None, temperature: float, top_p: float,
        max_new_tokens: float, mode: str | None = None, problem_id: str | None = None,
        released: bool | str = False, raw: list[str] | None = None, grounded: bool | None = None,
        request: gr.Request | None = None,
    ) -> AsyncIterator[tuple[list[dict[str, Any]], Any, Any]]:
        """Yield (chat history, answer released, unredacted replies) while the reply streams.

        The tutor plans the turn (mode prompt, sympy grounding, Socratic withholding); the reply streams redacted
        where the answer is withheld, and ends with sympy's verdict badge. ``grounded`` is the student's grounding
        checkbox (None: the deployment's default). ``released`` is True for a practice problem whose answer may
        be shown (the panel resets it per problem), or, for a question typed in the chat, that question's text:
        a new question withholds its answer again. A message that may not go (too long, too many per minute, a
        reply still streaming in this tab) raises ``gr.Error`` before anything is yielded: the page shows why and
        puts the text back in the box (see :func:`build_ui`); an empty one changes nothing.
        """
        history, raw = list(history or []), list(raw or [])
        released = released if isinstance(released, str) else bool(released)
        params = self._admit(message, temperature, top_p, max_new_tokens, request)
        if params is None:  # an empty message
            yield history, released, raw
            return
        text = message.strip()
        problem = self.bank.get(problem_id) if problem_id else None
        asked = [message_text(m.get("content")) for m in history if m.get("role") == "user"]
        plan, released = await asyncio.to_thread(
            tutor.prepare_turn, text, asked, settings=self.config.tutor, requested_mode=mode, problem=problem,
            released=released, last_reply=raw[-1] if raw else None,
            grounded=self.grounded if grounded is None else bool(grounded))
        messages = to_engine_messages(plan.system_prompt, history) + [{"role": "user", "content": text}]
        history += [{"role": "user", "content": to_display(text)}, {"role": "assistant", "content": "…"}]
        session = self._session(request)
        rid = new_request_id()
        if isinstance(self.engine, MeteredEngine):  # the teacher's view shows who asked what
            self.engine.tag(rid, session=session, preview=text)
        running = self._running.setdefault(session, set())
        running.add(rid)
        full, finish, badge = "", None, ""
        updates = coalesce(self.engine.stream(messages, params, request_id=rid), self._interval)
        first: asyncio.Future[ReplyUpdate] | None = None
        # The answer-release state goes out with the first update (kept if the student stops the reply) and with
        # the last; the updates between skip both states: Gradio re-derives a State's page config on every value
        # it is given (``SessionState.__setitem__``), and only the chat changes while the reply streams.
        release: Any = released
        try:
            # The student's message and the "…" bubble go out with the first text when it comes quickly (one update
            # fewer per turn for the server), else on their own after FIRST_TEXT_WAIT.
            first = asyncio.ensure_future(anext(updates))
            if not (await asyncio.wait({first}, timeout=FIRST_TEXT_WAIT))[0]:
                yield history, release, gr.skip()
                release = gr.skip()
            update: ReplyUpdate | None = await first
            while update is not None:
                full, finish = update.text, update.finish_reason or finish
                history[-1] = {"role": "assistant", "content": render_reply(replace(update, text=plan.show(full)))}
                if update.finish_reason is not None:
                    break
                yield history, release, gr.skip()
                release = gr.skip()
                update = await anext(updates, None)
            if full:
                # sympy's verdict usually takes milliseconds: wait briefly, so that the end of the reply and its
                # badge go out as one update; a slow check shows the text first.
                check = asyncio.ensure_future(asyncio.to_thread(tutor.finish_reply, plan, full))
                done, _ = await asyncio.wait({check}, timeout=FINAL_CHECK_WAIT)
                if not done:
                    yield history, gr.skip(), gr.skip()
                badge = (await check).badge or ""
                if badge:
                    history[-1] = {"role": "assistant", "content": history[-1]["content"] + "\n\n" + badge}
                yield history, released, [*raw, full]
            else:
                yield history, released, gr.skip()
        finally:
            if first is not None and not first.done():  # stopped while waiting for the first text
                first.cancel()
                with contextlib.suppress(BaseException):
                    await first
            await updates.aclose()  # closes the engine stream: aborts the generation if it is still running
            running.discard(rid)
            if not running:
                self._running.pop(session, None)
            # Logged as the student saw it (redacted in Socratic mode); Stop or a closed tab count as "abort".
            self.log.record(session, mode=plan.mode, question=text, reply=plan.show(full), badge=badge,
                            finish_reason=finish or "abort")

    @staticmethod
    def _session(request: gr.Request | None) -> str:
        return getattr(request, "session_hash", None) or "anonymous"

    def _interval(self) -> float:
        return shared_interval(self.config.yield_interval, self.engine.active_requests(),
                               self.config.updates_per_second)

    def _admit(self, message: str | None, temperature: float, top_p: float, max_new_tokens: float,
               request: gr.Request | None) -> GenParams | None:
        """The turn's sampling settings (the message is counted against the rate limit), ``None`` for an empty
        message; raises ``gr.Error`` with the reason when the message may not go."""
        text = (message or "").strip()
        if not text:
            return None
        session = self._session(request)
        refusal, params = None, None
        if len(text) > self.config.max_message_chars:
            refusal = (f"Your message is {len(text):,} characters long; the limit is "
                       f"{self.config.max_message_chars:,}. Shorten it and send again (your text is still in the box).")
        elif self._running.get(session):
            refusal = "A reply is still coming: wait for it to finish, or press Stop (your text is still in the box)."
        else:
            try:
                params = validate_gen_params(GenParams(float(temperature), float(top_p), int(max_new_tokens)))
            except AppError as err:
                refusal = user_error(err)
        if refusal is None and (wait := self.limiter.wait_seconds(session)):  # counted only when all else is fine
            refusal = f"You are sending messages quickly: please wait {wait:.0f} s (your text is still in the box)."
        if refusal is not None:
            raise gr.Error(refusal, title="Not sent", print_exception=False)
        return params

    async def unload(self, request: gr.Request) -> None:
        """The tab closed: abort its generations in the engine (Gradio also cancels the event on disconnect)."""
        for rid in list(self._running.pop(request.session_hash or "", ())):
            await self.engine.abort(rid)

    @staticmethod
    def clear() -> tuple[list[dict[str, Any]], str, str]:
        """New chat: an empty chat, an empty box, no message waiting."""
        return [], "", ""


def chat_concurrency(engine: Engine, config: UIConfig) -> int:
    """Replies that may stream at once (Gradio's limit on the chat event): the engine's batch, at least WAITING_ROOM."""
    return config.concurrency_limit or max(engine.info.max_concurrency, WAITING_ROOM)


async def _keep(history: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The chat into the browser's storage after every turn, and back from it on page load. Through the server (not
    queued): a value set by a browser-only (js) step does not reach gr.BrowserState's storage. Async, so Gradio
    calls it on the event loop. After a turn it is registered with ``ui.inline.INLINE`` and stores the chat as the
    page sent it, with no worker-thread hop (Gradio would make two more: the chat's preprocess, the storage's
    postprocess); for text that form is what the chat's preprocess returns (``tests/test_inline.py``). On page load
    Gradio's postprocessing checks the stored value on its way to the chat."""
    return list(history or [])


MAX_UPLOAD_BYTES = 1  # the page takes no uploads; Gradio's upload route would otherwise store any file


def launch_options(engine: Engine, config: UIConfig | None = None) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch`` (app.py and the benchmarks use them).

    ``max_threads``: Gradio starts at most that many events at once across the whole app (40 by default), so a
    class larger than that would wait in Gradio's queue before the engine ever saw it; room for every chat stream
    plus the page's other events. ``max_file_size``: uploads are refused (HTTP 413). ``enable_monitoring``: Gradio's
    traffic page (``/monitoring``) is off; the teacher's view has the class's figures."""
    return {"max_threads": chat_concurrency(engine, config or UIConfig()) + 32, "max_file_size": MAX_UPLOAD_BYTES,
            "enable_monitoring": False}


def launch(demo: gr.Blocks, engine: Engine, config: UIConfig | None = None, *, tuned: bool = True,
           runtime: dict[str, Any] | None = None, **options: Any) -> Any:
    """Serve ``demo`` as the app does (``app.py``, and the benchmarks so that they measure the same): queued, the
    process tuned for serving (``ui.runtime``; ``runtime``: other arguments for ``tune_for_serving``,
    ``tuned=False``: CPython's defaults) and launched with :func:`launch_options` plus ``options`` (host, port, …),
    with Gradio's login check moved onto the event loop (``ui.inline.check_login_on_loop``). Blocks like
    ``demo.launch`` unless ``options`` has ``prevent_thread_lock=True``; returns what ``demo.launch`` returns."""
    from ui.runtime import tune_for_serving

    # Gradio's queue summarises its event records with pandas (up to 10,000 of them, 4-11 ms of CPU holding the GIL)
    # in a worker thread after every event, for its /monitoring page; the page is off (launch_options), so the
    # summary is never read: computed once per 10**9 events instead. Gradio reads the variable when the queue is made.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))
    demo.queue(default_concurrency_limit=8)
    if tuned:
        tune_for_serving(**(runtime or {}))  # the garbage collector and the GIL's switch interval, for the loop
    blocking = not options.pop("prevent_thread_lock", False)
    launched = demo.launch(**options, **launch_options(engine, config), prevent_thread_lock=True)
    check_login_on_loop(demo.app)  # launch made the app: no worker-thread hop per request for its login check
    if blocking:
        demo.block_thread()  # as demo.launch() does without prevent_thread_lock
    return launched


def build_ui(engine: Engine, config: UIConfig | None = None, *, gate: TeacherGate | None = None,
             log: ServerLog | None = None) -> gr.Blocks:
    """The chat page for ``engine``. The caller launches it (``app.py``, or tests on a free port).

    When ``engine`` is an :class:`EngineSwitcher`, the page gets the teacher's engine panel; the teacher's classroom
    and performance view is always there. Both are locked unless ``gate`` holds a password. ``log`` is the optional
    server-side conversation log (off by default).
    """
    config = config or UIConfig()
    metered = engine if isinstance(engine, MeteredEngine) else MeteredEngine(engine)  # for the teacher's view
    handlers = ChatHandlers(metered, config, log)
    limit = chat_concurrency(engine, config)
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
        build_export_row(chatbot)
        with gr.Accordion("Reply settings", open=False):
            temperature = gr.Slider(TEMPERATURE.lo, TEMPERATURE.hi, TEMPERATURE.default, step=TEMPERATURE.step,
                                    label="Temperature (0 = always the most likely word)")
            top_p = gr.Slider(TOP_P.lo, TOP_P.hi, TOP_P.default, step=TOP_P.step, label="Top-p")
            max_tokens = gr.Slider(MAX_NEW_TOKENS.lo, MAX_NEW_TOKENS.hi, MAX_NEW_TOKENS.default,
                                   step=MAX_NEW_TOKENS.step, label="Maximum reply length (tokens)")
        gr.Examples(EXAMPLES, inputs=textbox)
        gate, memory = gate or TeacherGate(None), None
        if isinstance(metered.inner, EngineSwitcher):
            from engine.catalog import load_catalog
            from ui.engine_panel import build_engine_panel

            memory = build_engine_panel(metered.inner, gate, load_catalog(), status).live_readout
        build_teacher_view(metered, gate, memory)

        panel = build_tutor_panel(handlers.bank, config.tutor, grounded=handlers.grounded)
        raw = gr.State([])  # the tutor's unredacted replies, for the answer-release check
        # Send empties the box in the browser (no round trip) into a hidden one, from which ``respond`` streams the
        # reply (the API's /chat takes the message there directly). A refused message (too long, too many, a reply
        # still streaming in this tab) fails the event and goes back into the box; Stop empties the hidden box
        # first, so a stopped question does not come back. Why not clear the box from ``respond``: an output a
        # streaming event skips still costs Gradio a new Textbox per update (a py-spy profile of 64 students: 43 %
        # of the server's event loop), and it would erase what the student types while the reply streams.
        pending = gr.Textbox(visible=False, elem_id="pending-message")
        inputs = [pending, chatbot, temperature, top_p, max_tokens, panel.mode, panel.problem_id, panel.released, raw,
                  panel.grounding]
        outputs = [chatbot, panel.released, raw]
        replies = []
        # The chat's inputs and outputs are converted on the event loop (``ui.inline``): Gradio would make a worker
        # thread hop per component, eight before each turn (its inputs that are not state) and one per update.
        respond = inline_io(handlers.respond, inputs, outputs)
        for trigger, name in ((textbox.submit, "chat"), (send.click, None)):
            taken = trigger(None, textbox, [textbox, pending], js="(text) => ['', text]", api_visibility="private")
            # "multiple": a second Send while a reply streams reaches the server, which refuses it (text restored).
            api = {"api_name": name} if name else {"api_visibility": "private"}
            reply = taken.then(respond, inputs, outputs, concurrency_limit=limit, concurrency_id="chat",
                               trigger_mode="multiple", **INLINE, **api)
            reply.failure(None, [pending, textbox], textbox, js="(text, box) => text || box", api_visibility="private")
            replies.append(reply)
        # The conversation survives a reload: kept in the browser's local storage, restored on load.
        saved = gr.BrowserState([], storage_key="math-tutor-conversation")
        store = {"api_visibility": "private", "queue": False, **INLINE}
        for event in replies:
            event.then(_keep, chatbot, saved, **store)
        stop.click(None, None, pending, js="() => ''", cancels=replies, api_visibility="private").then(
            _keep, chatbot, saved, **store)
        new_chat.click(handlers.clear, None, [chatbot, textbox, pending], cancels=replies, api_name="clear").then(
            _keep, chatbot, saved, **store)
        demo.load(_keep, saved, chatbot, api_visibility="private", queue=False)
        demo.unload(handlers.unload)
    return demo
