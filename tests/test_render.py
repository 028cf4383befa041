"""Math delimiters and money: what the page is told to render, and dollars that must stay dollars."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ui.chat import build_ui, render_reply
from ui.render import CURRENCY_HTML, LATEX_DELIMITERS, to_display, to_model_text
from ui.streaming import ReplyUpdate
from engine.fake import FakeEngine


def test_all_four_delimiters_configured_with_double_dollar_first():
    pairs = [(d["left"], d["right"], d["display"]) for d in LATEX_DELIMITERS]
    assert pairs == [("$$", "$$", True), ("$", "$", False), ("\\(", "\\)", False), ("\\[", "\\]", True)]


def test_chatbot_component_carries_the_delimiters():
    demo = build_ui(FakeEngine())
    config = demo.get_config_file()
    chatbots = [c for c in config["components"] if c.get("type") == "chatbot"]
    assert chatbots and chatbots[0]["props"]["latex_delimiters"] == LATEX_DELIMITERS


@pytest.mark.parametrize(
    "text, money, math",
    [
        ("a pencil costs $0.40 and a pen $1.20", 2, []),
        ("It costs $5 and $x$ is 2", 1, ["$x$"]),
        ("Solve $x^2 - 5x + 6 = 0$.", 0, ["$x^2 - 5x + 6 = 0$"]),
        ("$$\\frac{1}{2}$$ of $30", 1, ["$$\\frac{1}{2}$$"]),
        ("Between $5 and $10, say $7.50.", 3, []),
        ("Price: \\$3, area $\\pi r^2$", 1, ["$\\pi r^2$"]),
        ("`$PATH` and $HOME", 1, ["`$PATH`"]),
        ("We have \\(x = 2\\) and cost $2", 1, ["\\(x = 2\\)"]),
        ("$x$ dollars", 0, ["$x$"]),
        ("$ 5 $", 2, []),  # a space after the opener: not math (Pandoc's rule)
    ],
)
def test_money_is_protected_and_math_untouched(text, money, math):
    shown = to_display(text)
    assert shown.count(CURRENCY_HTML) == money
    for span in math:
        assert span in shown
    # Outside the protected spans no bare dollar pair is left for KaTeX to pair up.
    bare = shown.replace(CURRENCY_HTML, "")
    for span in math:
        bare = bare.replace(span, "")
    assert "$" not in bare


def test_round_trip_to_model_text():
    text = "a pencil costs $0.40 and $x$ pens"
    assert to_model_text(to_display(text)) == text


def test_partial_streaming_text_is_safe_and_becomes_math_when_closed():
    partial = "The roots of $x^2 - 5x"
    assert to_display(partial).count(CURRENCY_HTML) == 1  # unclosed: shown as a dollar for now
    assert to_display(partial + " + 6$ are") == partial + " + 6$ are"


def test_reply_notes():
    assert "queue" in render_reply(ReplyUpdate("", 0, queue_position=3))
    assert "3" in render_reply(ReplyUpdate("", 0, queue_position=3))
    assert "Stopped" in render_reply(ReplyUpdate("abc", 1, finish_reason="abort"))
    assert "maximum length" in render_reply(ReplyUpdate("abc", 1, finish_reason="length"))
    shown = render_reply(ReplyUpdate("abc", 1, finish_reason="error", error="GPU out of memory."))
    assert "GPU out of memory." in shown and "kept" in shown


def test_bare_boxed_answer_is_shown_as_math():
    assert to_display("So \\boxed{\\frac{1}{2}}.") == "So \\(\\boxed{\\frac{1}{2}}\\)."
    assert to_display("inside math \\(\\boxed{3}\\)") == "inside math \\(\\boxed{3}\\)"
    assert to_display("still streaming \\boxed{2") == "still streaming \\boxed{2"


PIECES = ["$", "$", "\\", "\n", "\n\n", " ", "x", "1", "{", "}", "$$", "\\$", "`", "\\(", "\\)", "\\boxed{"]


@settings(max_examples=3000, deadline=None, derandomize=True, database=None)  # reproducible, as the fuzz tests
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_inline_math_spans_follow_pandocs_rule_on_any_text(text):
    """Every span opens with an unescaped "$" followed by a non-space, closes with a "$" after a non-space and
    before no digit, holds no unescaped paragraph break, and the spans do not overlap."""
    from ui.render import _inline_math_spans

    end = 0
    for start, stop in _inline_math_spans(text):
        assert start >= end and text[start] == "$" and text[stop - 1] == "$" and stop - start >= 3
        assert (start == 0 or text[start - 1] != "\\") and not text[start + 1].isspace()
        assert not text[stop - 2].isspace() and (stop == len(text) or not text[stop].isdigit())
        # A backslash escapes the next character: an escaped pair stands for one ordinary character here.
        assert "\n\n" not in re.sub(r"\\[\s\S]", "__", text[start:stop])
        end = stop
