"""The "Check my answer" box under the chat: the student's answer against a reference, checked by ``checker``.

The reference is the one the teacher or the problem gave (typed in the reference box), or else the final answer of
the tutor's last reply (``checker.extract_final_answer``). The verdict shows the checker's feedback and what it
understood, rendered as LaTeX. The checker runs in its own worker processes with a time limit; the call is made
from a thread so the event loop keeps serving. Not covered: the checking rules (``checker``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr

from ui.render import LATEX_DELIMITERS, message_text, to_model_text

MAX_ANSWER_CHARS = 2000


def _last_reply(history: list[dict[str, Any]] | None) -> str:
    for item in reversed(history or []):
        if item.get("role") == "assistant":
            return to_model_text(message_text(item.get("content")))
    return ""


async def check(answer: str, reference: str, history: list[dict[str, Any]] | None) -> str:
    """Markdown verdict for the student's ``answer``."""
    import checker

    answer = (answer or "").strip()
    if not answer:
        return "Type your answer first."
    if len(answer) > MAX_ANSWER_CHARS:
        return f"That answer is {len(answer):,} characters long; answers are at most {MAX_ANSWER_CHARS:,}."
    reference = (reference or "").strip()
    source = "the reference you gave"
    if not reference:
        reference = checker.extract_final_answer(_last_reply(history)) or ""
        source = "the tutor's final answer"
    if not reference:
        return ("There is nothing to check against yet: type the reference answer, or ask the tutor to solve the "
                "problem first (its final answer is used).")
    verdict = await asyncio.to_thread(checker.check_answer, answer, reference)
    icon = "✅" if verdict.equivalent else ("⏱️" if verdict.timed_out else "❌")
    lines = [f"{icon} {verdict.feedback}"]
    if verdict.parsed_answer:
        lines.append(f"Your answer: $${verdict.parsed_answer}$$")
    if verdict.parsed_reference:
        lines.append(f"Compared with {source}: $${verdict.parsed_reference}$$")
    return "\n\n".join(lines)


def build_check_panel(chatbot: gr.Chatbot) -> None:
    """Add the panel to the Blocks being built, below ``chatbot``."""
    with gr.Accordion("Check my answer", open=True, elem_id="check-panel"):
        with gr.Row():
            answer = gr.Textbox(label="Your answer", placeholder="e.g. x = 2 or x = 3, 3/4, \\frac{\\sqrt{3}}{2}",
                                scale=3, elem_id="answer")
            reference = gr.Textbox(label="Reference answer (optional)", scale=2, elem_id="reference",
                                   placeholder="empty: the tutor's final answer")
            button = gr.Button("Check", scale=1, elem_id="check")
        verdict = gr.Markdown(elem_id="verdict", latex_delimiters=LATEX_DELIMITERS)
        inputs = [answer, reference, chatbot]
        answer.submit(check, inputs, [verdict], api_name="check", concurrency_limit=8, concurrency_id="check")
        button.click(check, inputs, [verdict], api_visibility="private", concurrency_limit=8, concurrency_id="check")
