"""XSS payloads in the student's text and in the model's reply, on the real page in headless Chromium.

Each payload goes through the page (typed into the box and sent; the FakeEngine is scripted to reply with another
payload), the test waits for the reply, clicks every link the chat rendered, then checks: ``window.__xss`` was
never set (in the page or by a framed document), no ``<script>``/``<iframe>``/``<object>``/``<embed>`` inside
#chatbot, no element there with an ``on…`` attribute or a ``javascript:`` link, and no dialog opened. The same
checks run again after a reload, which re-renders the conversation from the browser's local storage. A screenshot
goes to ``artifacts/browser/xss.png``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.fake import FakeEngine
from ui import UIConfig, build_ui
from tests.fixtures.live import serve

SCREENSHOT = Path(__file__).resolve().parents[2] / "artifacts" / "browser" / "xss.png"

# (student text, model reply): every payload appears once on each side.
PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=1</script>",
    "[click](javascript:window.__xss=1)",
    "<svg onload=window.__xss=1>",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    r"$\href{javascript:window.__xss=1}{click me}$ and \(\href{javascript:alert(1)}{here}\)",
    '<img src=x onerror="alert(1)"><a href="javascript:alert(2)">link</a>',
    '<details open ontoggle="window.__xss=1">x</details><math><mtext><img src=x onerror=alert(3)></mtext></math>',
    "[x](JaVaScRiPt:window.__xss=1) <a href=\"&#106;avascript:window.__xss=1\">y</a>",
    '<object data="javascript:window.__xss=1"></object><embed src="javascript:window.__xss=1">',
    # Custom tags are kept by the Chatbot (allow_tags): their attributes must still be cleaned.
    '<thinking onmouseover="window.__xss=1" onclick="window.__xss=1">hover me</thinking>'
    '<x-note autofocus tabindex=0 onfocus="window.__xss=1">focus me</x-note>',
]
TURNS = [(PAYLOADS[i], PAYLOADS[(i + 3) % len(PAYLOADS)]) for i in range(len(PAYLOADS))]

CHECK = """() => {
  const chat = document.querySelector('#chatbot');
  const all = chat ? Array.from(chat.querySelectorAll('*')) : [];
  return {
    xss: window.__xss === undefined ? null : String(window.__xss),
    dangerous: chat ? chat.querySelectorAll('script, iframe, object, embed, frame').length : -1,
    handlers: all.filter(e => Array.from(e.attributes).some(a => a.name.toLowerCase().startsWith('on')))
                 .map(e => e.outerHTML.slice(0, 120)),
    js_links: all.filter(e => ['href', 'src', 'data', 'action', 'xlink:href', 'formaction']
                 .some(n => (e.getAttribute(n) || '').replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase()
                 .startsWith('javascript:'))).map(e => e.outerHTML.slice(0, 120)),
    text: chat ? chat.innerText : '',
  };
}"""


@pytest.fixture()
def app_url():
    engine = FakeEngine(token_delay=0.0)
    demo = build_ui(engine, UIConfig(requests_per_minute=0))
    url = serve(demo)
    yield engine, url
    demo.close()


def _assert_clean(page, dialogs: list[str]) -> dict:
    page.wait_for_timeout(300)  # let failed image loads and load events fire
    found = page.evaluate(CHECK)
    assert found["xss"] is None, "a payload ran"
    assert found["dangerous"] == 0, "script/iframe/object/embed elements were rendered"
    assert found["handlers"] == [], found["handlers"]
    assert found["js_links"] == [], found["js_links"]
    assert dialogs == [], dialogs
    return found


def _click_links(page) -> int:
    """Click every link the chat rendered (a javascript: one would run now); popups are closed unread."""
    links = page.locator("#chatbot .message a, #chatbot [data-testid='bot'] a, #chatbot [data-testid='user'] a")
    clicked = 0
    for i in range(links.count()):
        link = links.nth(i)
        if link.is_visible():
            link.click(modifiers=[], no_wait_after=True, timeout=5000)
            clicked += 1
    return clicked


def test_xss_payloads_from_the_student_and_the_model_stay_inert(page, app_url):
    engine, url = app_url
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.context.on("page", lambda popup: popup.close())  # a link opening a new tab must not stay around
    page.goto(url)
    clicked = 0
    for n, (student, model) in enumerate(TURNS):
        engine.enqueue(f"{model} END-{n}")
        page.locator("#message textarea").fill(f"MSG-{n} {student}")
        page.locator("#send").click()
        page.wait_for_function(f"document.querySelector('#chatbot')?.innerText?.includes('END-{n}')",
                               timeout=30000)
        clicked += _click_links(page)
        _assert_clean(page, dialogs)
    assert len(engine.calls) == len(TURNS)
    # The student's payloads reached the model as typed (only the page's rendering made them inert).
    assert engine.calls[1][0][-1]["content"] == f"MSG-1 {PAYLOADS[1]}"
    found = _assert_clean(page, dialogs)
    assert "MSG-0" in found["text"] and f"END-{len(TURNS) - 1}" in found["text"]
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    # The conversation comes back from local storage after a reload: rendered again, still inert.
    page.reload()
    page.wait_for_function(f"document.querySelector('#chatbot')?.innerText?.includes('END-{len(TURNS) - 1}')",
                           timeout=30000)
    clicked += _click_links(page)
    _assert_clean(page, dialogs)
    print(f"\nxss: {len(TURNS)} turns, {clicked} rendered links clicked, no payload ran")
