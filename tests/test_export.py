"""Conversation export: Markdown keeps the LaTeX, HTML renders it as MathML, hostile text stays inert, and the two
download buttons work on a real Gradio server (gradio_client) and in headless Chromium (real downloads)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client

from ui.export import build_export_row, to_html, to_markdown, write_export
from ui.render import CURRENCY_HTML, to_display
from tests.fixtures.live import serve

WHEN = datetime(2025, 3, 14, 9, 26, tzinfo=timezone.utc)
QUESTION = "A pencil costs $0.40 and a pen $1.20. Solve \\(x^2 - 5x + 6 = 0\\) 你好 😀"
REPLY = (
    "Factor it: \\(x^2 - 5x + 6 = (x-2)(x-3)\\), so $x = 2$ or $x = 3$:\n\n"
    "$$x = \\frac{5 \\pm \\sqrt{25 - 24}}{2}$$\n\n"
    "\\[\\int_0^1 2x\\,dx = 1\\]\n\n"
    "Both cost $1.60. \\boxed{2, 3} 答案 🎉"
)
BADGE = "✅ Verified by sympy ✓"
# What the chatbot holds: display form (money wrapped, bare \boxed in \(…\)), the badge after a blank line.
HISTORY = [
    {"role": "user", "content": to_display(QUESTION)},
    {"role": "assistant", "content": to_display(REPLY) + "\n\n" + BADGE},
]

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[y](JaVaScRiPt:alert(1)) <javascript:alert(1)> <a href=\"javascript:alert(1)\">z</a>",
    "<svg onload=alert(1)>",
    "\\(\\text{<img src=x onerror=alert(1)>}\\) $\\text{<script>alert(1)</script>}$",
    "\\(\\href{javascript:alert(1)}{here}\\) $\\style{background:url(http://127.0.0.1:9/x)}{s}$ $\\class{c}{d}$",
    "$$x$$ (a\"><img/src=x/onerror=alert`1`>)",
]


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def _tags(page: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def _body(page: str) -> str:
    return page[page.index("<main>"):page.index("</main>")]


# --- Markdown ------------------------------------------------------------------------------------------------


def test_markdown_has_title_date_roles_math_verbatim_and_plain_money():
    md = to_markdown(HISTORY, when=WHEN)
    assert md.startswith("# Math Tutor conversation\n")
    assert f"*Exported {WHEN.astimezone():%Y-%m-%d %H:%M}*" in md
    assert md.index("**Student:**") < md.index("**Tutor:**")
    assert "A pencil costs $0.40 and a pen $1.20." in md and "Both cost $1.60." in md
    assert "currency" not in md and "&#36;" not in md
    # The LaTeX is copied verbatim; \(…\) and \[…\] become the $ delimiters Markdown viewers render.
    assert "$x^2 - 5x + 6 = (x-2)(x-3)$" in md and "$x = 2$" in md
    assert "$$x = \\frac{5 \\pm \\sqrt{25 - 24}}{2}$$" in md
    assert "$$\\int_0^1 2x\\,dx = 1$$" in md
    assert "$\\boxed{2, 3}$" in md
    assert "\\(" not in md and "\\[" not in md
    assert "你好 😀" in md and "答案 🎉" in md and md.rstrip().endswith(BADGE)


def test_markdown_escapes_money_only_where_a_viewer_could_pair_it_into_math():
    # "\$x\$" was money on the page; written as plain "$x$" a viewer would render x as math.
    md = to_markdown([{"role": "user", "content": to_display("costs \\$x\\$ each")}])
    assert "costs \\$x\\$ each" in md


def test_markdown_keeps_code_untouched():
    md = to_markdown([{"role": "assistant", "content": to_display("Run `echo $PATH \\(x\\)` now")}])
    assert "`echo $PATH \\(x\\)`" in md


# --- HTML ----------------------------------------------------------------------------------------------------


def test_html_renders_inline_display_fraction_and_boxed_math_as_mathml():
    page = to_html(HISTORY, when=WHEN)
    body = _body(page)
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert body.count('<math display="inline">') >= 5  # x^2…, factored, x = 2, x = 3, boxed
    assert body.count('<math display="block">') == 2  # $$…$$ and \[…\]
    assert "<mfrac>" in body and "<msqrt>" in body and "<msubsup>" in body
    assert '<mrow class="boxed">' in body
    # No LaTeX delimiters or commands are left for math that converted.
    for raw in ("\\frac", "\\boxed", "\\(", "\\[", "$$", "$x", "\\int", "\\pm"):
        assert raw not in body, raw
    assert "A pencil costs $0.40 and a pen $1.20." in body and "Both cost $1.60." in body
    assert "currency" not in body
    assert "你好 😀" in body and "答案 🎉" in body and BADGE in body
    assert '<section class="turn student">' in body and '<section class="turn tutor">' in body


def test_html_is_standalone_and_printable():
    page = to_html(HISTORY, when=WHEN)
    tags = _tags(page)
    assert not [t for t, a in tags if t in ("script", "link", "iframe", "img")]
    assert not [a for t, a in tags if "src" in a]
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]
    assert "@media print" in page
    assert f"Exported {WHEN.astimezone():%Y-%m-%d %H:%M}" in page


def test_formula_that_does_not_convert_is_shown_as_escaped_code():
    page = to_html([{"role": "assistant", "content": "Bad: \\(\\frac{1}{\\) and <b>$\\frac{<i>}{$</b>"}])
    body = _body(page)
    assert '<code class="math-error">$\\frac{1}{$</code>' in body
    assert "<b>" not in body and "<i>" not in body


@pytest.mark.parametrize("role", ["user", "assistant"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_html_keeps_hostile_text_inert(role, payload):
    page = to_html([{"role": role, "content": to_display(payload)}])
    body = _body(page)
    assert "<script" not in body.lower()
    assert not re.search(r"<[^>]*\sonerror\s*=", body)
    assert 'href="javascript:' not in body.lower()
    tags = _tags(page)
    assert not [t for t, _ in tags if t in ("script", "img", "svg", "iframe", "object", "embed")]
    for tag, attrs in tags:
        assert not [k for k in attrs if k.startswith("on") or k in ("style", "src", "id")], (tag, attrs)
        assert not attrs.get("href", "").lower().startswith(("javascript:", "data:")), (tag, attrs)
        if tag.startswith("m") and tag != "meta" or tag == "math":
            assert "href" not in attrs and attrs.get("class", "boxed") == "boxed", (tag, attrs)


def test_javascript_link_is_refused_but_a_web_link_is_kept():
    body = _body(to_html([{"role": "assistant", "content": "[bad](javascript:alert(1)) [good](https://example.org)"}]))
    assert "[bad](javascript:alert(1))" in body
    assert '<a href="https://example.org">good</a>' in body


@pytest.mark.parametrize("history", [[], None, [{"role": "assistant", "content": ""}]])
def test_empty_history_exports(history):
    md, page = to_markdown(history), to_html(history)
    assert md.startswith("# Math Tutor conversation") and "(No messages.)" in md and "**Student:**" not in md
    assert "(No messages.)" in page and page.rstrip().endswith("</html>")


def test_content_as_parts_and_side_notes():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "\\(2+2\\)?"}]},
        {"role": "assistant", "content": "thinking…", "metadata": {"title": "Tool"}},
        {"role": "assistant", "content": "It is 4."},
    ]
    md = to_markdown(history)
    assert "What is $2+2$?" in md and "thinking" not in md and "It is 4." in md


def test_write_export_gives_a_fresh_safely_named_file(tmp_path):
    a = write_export(HISTORY, "md", tmp_path)
    b = write_export(HISTORY, "html", tmp_path)
    c = write_export(HISTORY, "html", tmp_path)
    assert re.fullmatch(r"math-tutor-\d{4}-\d{2}-\d{2}-\d{4}\.md", a.name)
    assert b.suffix == ".html" and b != c and b.parent != c.parent
    assert all(p.parent.parent == tmp_path for p in (a, b, c))
    assert "**Tutor:**" in a.read_text(encoding="utf-8") and "<math" in b.read_text(encoding="utf-8")
    with pytest.raises(ValueError):
        write_export(HISTORY, "pdf", tmp_path)  # type: ignore[arg-type]


def test_odd_characters_do_not_break_the_file(tmp_path):
    # A lone surrogate can arrive through JSON; character references that are no characters can come via \text.
    history = [{"role": "user", "content": "\\(\\text{&#xD800; &#x110000; &#x41;}\\) tail \ud800"}]
    page = write_export(history, "html", tmp_path).read_text(encoding="utf-8")
    assert "<mtext>&amp;#xD800;\xa0&amp;#x110000;\xa0A</mtext>" in page and "tail ?" in page  # spaces: nbsp


# --- A real server ---------------------------------------------------------------------------------------------


def _second_turn(history):
    return [*(history or []), {"role": "user", "content": "And \\(y^2 = 9\\)?"},
            {"role": "assistant", "content": "Then \\(y = \\pm 3\\). SECOND-REPLY"}]


@pytest.fixture(scope="module")
def export_app():
    """A page with a chatbot holding HISTORY (plus hostile text), the export row, and a button adding a turn."""
    history = [*HISTORY, {"role": "assistant", "content": to_display(" ".join(PAYLOADS))}]
    with gr.Blocks() as demo:
        chatbot = gr.Chatbot(value=history, elem_id="chatbot")
        build_export_row(chatbot)
        gr.Button("more", elem_id="more").click(_second_turn, chatbot, chatbot, api_visibility="private")
    url = serve(demo)
    try:
        yield url, history
    finally:
        demo.close()


def test_live_server_exports_both_files(export_app):
    url, history = export_app
    client = Client(url, verbose=False)
    try:
        # The chatbot's value as the page sends it: each content a list of text parts.
        sent = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in history]
        md_path = Path(client.predict(sent, api_name="/export_md"))
        html_path = Path(client.predict(sent, api_name="/export_html"))
    finally:
        client.close()
    assert md_path.suffix == ".md" and html_path.suffix == ".html"
    md, page = md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")
    assert "**Student:**" in md and "$0.40" in md and "$\\boxed{2, 3}$" in md and "你好 😀" in md
    assert '<math display="block">' in page and '<mrow class="boxed">' in page and "$1.20" in page
    assert "<script" not in _body(page) and 'href="javascript:' not in page


def test_browser_downloads_fresh_files_and_renders_the_math(export_app, tmp_path):
    """Headless Chromium: each click downloads exactly one file holding the conversation as it is now, and the
    HTML file opens offline with visible MathML, a drawn box, and no script run."""
    from tests.browser.conftest import CHROMIUM, FLAGS

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    url, _ = export_app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            downloads: list = []
            page.on("download", lambda d: downloads.append(d))
            page.goto(url)

            def download(selector: str) -> str:
                before = len(downloads)
                with page.expect_download(timeout=15000) as info:
                    page.locator(selector).click()
                page.wait_for_timeout(300)  # a second (stale) download would arrive by now
                assert len(downloads) == before + 1, "one click, one download"
                target = tmp_path / f"{len(downloads)}-{info.value.suggested_filename}"
                info.value.save_as(target)
                return target.read_text(encoding="utf-8")

            first_md = download("#export-md")
            assert "**Tutor:**" in first_md and "SECOND-REPLY" not in first_md
            page.locator("#more").click()
            page.locator("#chatbot").get_by_text("SECOND-REPLY").wait_for(timeout=15000)
            second_md = download("#export-md")
            assert "SECOND-REPLY" in second_md and "$y = \\pm 3$" in second_md
            page_html = download("#export-html")
            assert "SECOND-REPLY" in page_html
            html_file = tmp_path / "export.html"
            html_file.write_text(page_html, encoding="utf-8")

            viewer = browser.new_page()
            dialogs: list[str] = []
            requests: list[str] = []
            viewer.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            viewer.on("request", lambda r: requests.append(r.url))
            viewer.goto(html_file.as_uri())
            sizes = viewer.eval_on_selector_all(
                "math", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
            assert len(sizes) >= 8 and all(w > 0 and h > 0 for w, h in sizes), sizes
            box = viewer.eval_on_selector(".boxed", "e => getComputedStyle(e).borderTopWidth")
            assert box not in ("", "0px"), box
            viewer.wait_for_timeout(300)
            assert dialogs == [] and viewer.evaluate("() => document.scripts.length") == 0
            assert [r for r in requests if not r.startswith("file:")] == []
        finally:
            browser.close()
