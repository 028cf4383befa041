"""Export one conversation as Markdown (math kept as LaTeX) or as one standalone HTML file (math rendered).

    to_markdown(history)                     # "# title", date, "**Student:**" / "**Tutor:**" blocks
    to_html(history)                         # one file, no script, no network; math as MathML
    write_export(history, "html", directory) # a file with a safe name, for gr.DownloadButton
    build_export_row(chatbot)                # the two download buttons, inside the current gr.Blocks

``history`` is the chatbot's value in display form (``ui.render``): dollar amounts arrive as
``<span class="currency">&#36;</span>`` and become "$" again. In Markdown, ``\\(…\\)`` and ``\\[…\\]`` become
``$…$`` and ``$$…$$`` (what most Markdown viewers render); the LaTeX inside is copied verbatim. The HTML is the
same Markdown rendered by markdown-it-py (CommonMark, raw HTML escaped) with mdit-py-plugins' dollar math, whose
formulas latex2mathml turns into MathML on the server, so the file needs no KaTeX and no network; Chrome and
Firefox draw MathML natively. A formula that does not convert is shown as escaped code.

Not covered: the chat page's own rendering (``ui.render``), PDF (print the HTML file from the browser).
"""

from __future__ import annotations

import html
import re
import tempfile
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import Element

import gradio as gr

from ui.render import CURRENCY_HTML, message_text, to_display, to_model_text

DEFAULT_TITLE = "Math Tutor conversation"
ROLES = {"user": "Student", "assistant": "Tutor"}

# Fenced code, inline code and $$…$$ are copied through; \(…\) and \[…\] are rewritten to dollars. Hand-written
# (as in ui.render) because no Markdown library writes Markdown back out.
_SEGMENTS = re.compile(
    r"(?P<code>```[\s\S]*?(?:```|$)|`[^`\n]*`)|(?P<dd>\$\$[\s\S]+?\$\$)"
    r"|\\\((?P<inline>[\s\S]+?)\\\)|\\\[(?P<display>[\s\S]+?)\\\]"
)

# MathML that may reach the page. latex2mathml copies \text{…} into the output unescaped and turns \href, \style
# and \class into attributes, so its tree is re-serialised here through these lists; anything else fails closed
# (the formula is shown as code).
_MATHML_TAGS = frozenset(
    "math mrow mi mn mo ms mtext mspace msup msub msubsup mfrac msqrt mroot mstyle merror mpadded mphantom "
    "menclose munder mover munderover mtable mtr mtd mlabeledtr mmultiscripts mprescripts none".split()
)
_MATHML_ATTRS = frozenset(
    "display mathvariant notation stretchy fence form separator columnalign columnlines columnspacing rowlines "
    "rowspacing rowalign linebreak width height depth lspace rspace voffset minsize maxsize movablelimits accent "
    "accentunder linethickness mathcolor mathbackground mathsize displaystyle scriptlevel symmetric largeop "
    "frame".split()
)
_CHAR_REF = re.compile(r"&#x([0-9A-Fa-f]{1,6});")  # latex2mathml writes symbols as these inside its text nodes

_CSS = """
:root { color-scheme: light; }
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", sans-serif;
       color: #1f2328; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
.date { color: #59636e; margin: 0 0 1.5rem; }
.turn { border: 1px solid #d1d9e0; border-radius: 8px; padding: .6rem 1rem; margin: 0 0 1rem; }
.turn.student { background: #f6f8fa; }
.role { font-size: .85rem; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: #59636e;
        margin: 0 0 .25rem; }
.text > :first-child { margin-top: 0; }
.text > :last-child { margin-bottom: 0; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
code { font-family: ui-monospace, "SFMono-Regular", Consolas, monospace; font-size: .9em; }
.math-error { color: #a40e26; }
math { font-size: 1.1em; }
math[display="block"] { margin: .6rem 0; overflow-x: auto; }
.boxed { border: 1px solid currentColor; padding: .15em .3em; }
table { border-collapse: collapse; } th, td { border: 1px solid #d1d9e0; padding: .2rem .5rem; }
@page { margin: 1.5cm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 11pt; }
  .turn { break-inside: avoid; border-color: #999; }
  .turn.student { background: none; }
  a { color: inherit; }
}
""".strip()

# The file allows no script, no network and no form: only its own inline style and inline images.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"


def _turns(history: Sequence[dict[str, Any]] | None) -> list[tuple[str, str]]:
    """(role, display text) of each student and tutor message with text; side notes (metadata titles) left out."""
    turns = []
    for item in history or []:
        role = item.get("role")
        text = message_text(item.get("content")).strip()
        if role in ROLES and text and not (item.get("metadata") or {}).get("title"):
            turns.append((role, text))
    return turns


def _dollar_math(text: str, *, strict: bool) -> str:
    """``\\(…\\)`` as ``$…$`` and ``\\[…\\]`` as ``$$…$$``, outside code. ``strict``: only where Pandoc's rule
    (most Markdown viewers) would read the ``$…$`` back as math; otherwise the original is kept."""
    out: list[str] = []
    pos = 0
    for m in _SEGMENTS.finditer(text):
        out.append(text[pos : m.start()])
        pos = m.end()
        body, after = m["inline"], text[pos : pos + 1]
        if body is not None:
            inner = body.strip()
            ok = inner and "$" not in inner and "\n\n" not in inner and not inner.endswith("\\")
            if ok and strict and (after.isdigit() or after == "$" or text[m.start() - 1 : m.start()] == "$"):
                ok = False
            out.append(f"${inner}$" if ok else m.group(0))
        elif m["display"] is not None and "$$" not in m["display"]:
            out.append(f"$${m['display']}$$")
        else:
            out.append(m.group(0))
    out.append(text[pos:])
    return "".join(out)


def _markdown_text(display: str) -> str:
    """A message in display form as Markdown: dollar amounts plain "$" where no viewer could pair them into math
    (the page's own rule gives the same reading back), else ``\\$``."""
    plain = to_model_text(display)
    if to_display(plain) != display:
        plain = display.replace(CURRENCY_HTML, "\\$")
    return _dollar_math(plain, strict=True)


def _now(when: datetime | None) -> datetime:
    return (when or datetime.now()).astimezone()


def to_markdown(history: Sequence[dict[str, Any]] | None, *, title: str = DEFAULT_TITLE,
                when: datetime | None = None) -> str:
    """The conversation as Markdown: a title, the date, then each turn; math stays LaTeX in ``$`` delimiters."""
    parts = [f"# {title}", f"*Exported {_now(when):%Y-%m-%d %H:%M}*"]
    turns = _turns(history)
    if not turns:
        parts.append("*(No messages.)*")
    for role, text in turns:
        parts.append(f"**{ROLES[role]}:**\n\n{_markdown_text(text)}")
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# HTML


def _char(m: re.Match[str]) -> str:
    code = int(m[1], 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else m[0]


def _mathml_text(text: str | None) -> str:
    if not text:
        return ""
    return html.escape(_CHAR_REF.sub(_char, text), quote=False)


def _serialise(node: Element) -> str:
    """MathML from latex2mathml's tree, through the allow-lists; ``ValueError`` on anything else."""
    tag, attrs = node.tag, dict(node.attrib)
    if tag not in _MATHML_TAGS:
        raise ValueError(f"unexpected element {tag!r}")
    if tag == "menclose" and attrs.get("notation") == "box":
        # \boxed: MathML Core (Chrome) has no <menclose>; a CSS border on an <mrow> draws the box everywhere.
        tag, attrs = "mrow", {"class": "boxed"}
    else:
        attrs = {k: v for k, v in attrs.items() if k in _MATHML_ATTRS}
    head = tag + "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in attrs.items())
    inner = _mathml_text(node.text) + "".join(_serialise(child) + _mathml_text(child.tail) for child in node)
    return f"<{head}>{inner}</{tag}>"


@lru_cache(maxsize=2048)
def latex_to_mathml(latex: str, display: bool) -> str:
    """One formula as a ``<math>`` element, or as escaped ``<code>`` (with its delimiters) when it does not convert."""
    from latex2mathml.converter import convert_to_element

    try:
        tree = convert_to_element(latex, display="block" if display else "inline")
        return _serialise(tree)
    except Exception:  # latex2mathml raises several types on bad LaTeX; the user still sees the formula
        delim = "$$" if display else "$"
        return f'<code class="math-error">{html.escape(delim + latex + delim)}</code>'


@lru_cache(maxsize=1)
def _renderer():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    # html=False: raw HTML from the student or the model is shown as text. Every "$" left in the source is a math
    # delimiter (money was escaped as "\$" before), so spaces and digits next to it are allowed. Labels are off:
    # the plugin writes a "$$…$$ (label)" label into an id attribute unescaped. Images stay links: the file loads
    # nothing from the network (its CSP would block them anyway).
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    md.disable("image")
    dollarmath_plugin(md, allow_labels=False, allow_space=True, allow_digits=True, allow_blank_lines=False,
                      double_inline=True)

    def inline(self, tokens, idx, options, env):
        return latex_to_mathml(tokens[idx].content.strip(), False)

    def display(self, tokens, idx, options, env):
        return latex_to_mathml(tokens[idx].content.strip(), True)

    md.add_render_rule("math_inline", inline)
    md.add_render_rule("math_inline_double", display)
    md.add_render_rule("math_block", lambda *a: f'<div class="math">{display(*a)}</div>\n')
    return md


def _html_text(display: str) -> str:
    return _renderer().render(_dollar_math(display.replace(CURRENCY_HTML, "\\$"), strict=False))


def to_html(history: Sequence[dict[str, Any]] | None, *, title: str = DEFAULT_TITLE,
            when: datetime | None = None) -> str:
    """The conversation as one standalone, printable HTML page with the math rendered as MathML."""
    esc = html.escape
    turns = []
    for role, text in _turns(history):
        name = ROLES[role]
        turns.append(f'<section class="turn {name.lower()}">\n<h2 class="role">{name}</h2>\n'
                     f'<div class="text">\n{_html_text(text)}</div>\n</section>')
    body = "\n".join(turns) or "<p><em>(No messages.)</em></p>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
        f'<header>\n<h1>{esc(title)}</h1>\n<p class="date">Exported {_now(when):%Y-%m-%d %H:%M}</p>\n</header>\n'
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def write_export(history: Sequence[dict[str, Any]] | None, fmt: Literal["md", "html"], directory: Path,
                 *, title: str = DEFAULT_TITLE) -> Path:
    """Write the export to ``directory/<new folder>/math-tutor-<date>.<fmt>`` (a folder per call, so concurrent
    downloads never share a file) and return its path."""
    if fmt not in ("md", "html"):
        raise ValueError(f"unknown export format {fmt!r}: use 'md' or 'html'")
    when = _now(None)
    text = to_markdown(history, title=title, when=when) if fmt == "md" else to_html(history, title=title, when=when)
    directory.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="export-", dir=directory)) / f"math-tutor-{when:%Y-%m-%d-%H%M}.{fmt}"
    path.write_text(text, encoding="utf-8", errors="replace")  # a lone surrogate must not fail it
    return path


# A DownloadButton downloads the file it already holds, when clicked, then runs its click event. So the click event
# writes the file and returns it, this script downloads it, and the button is emptied again, so the next click
# never starts with a stale file.
_DOWNLOAD_JS = """
(file) => {
  if (file && file.url) {
    const a = document.createElement("a");
    a.href = file.url;
    a.download = file.orig_name || "";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  return null;
}
"""


def build_export_row(chatbot: gr.Chatbot) -> None:
    """Add "Download Markdown" and "Download HTML" buttons for ``chatbot``'s conversation to the current Blocks.
    API names ``/export_md`` and ``/export_html`` take the history and return the file."""
    directory = Path(tempfile.mkdtemp(prefix="math-tutor-export-"))
    with gr.Row(elem_id="export-row"):
        buttons = {
            "md": gr.DownloadButton("Download Markdown", elem_id="export-md", size="sm", scale=0),
            "html": gr.DownloadButton("Download HTML", elem_id="export-html", size="sm", scale=0),
        }
    for fmt, button in buttons.items():
        def export(history: list[dict[str, Any]] | None, fmt: Literal["md", "html"] = fmt) -> str:
            return str(write_export(history, fmt, directory))

        button.click(export, chatbot, button, api_name=f"export_{fmt}").then(
            None, button, button, js=_DOWNLOAD_JS, api_visibility="private")
