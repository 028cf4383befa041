"""The "Check my answer" box on the live app: real checker, reference given or taken from the tutor's reply."""

from __future__ import annotations

import pytest
from gradio_client import Client

from engine.fake import FakeEngine
from ui import build_ui
from tests.fixtures.live import serve


@pytest.fixture(scope="module")
def client():
    demo = build_ui(FakeEngine(token_delay=0.001))
    url = serve(demo)
    c = Client(url, verbose=False)
    yield c
    c.close()
    demo.close()


def _tutor_said(text: str) -> list[dict]:
    """Chat history in the shape the page sends it (content as a list of text parts)."""
    return [{"role": "user", "content": [{"type": "text", "text": "Solve it"}]},
            {"role": "assistant", "content": [{"type": "text", "text": text}]}]


def test_correct_answer_against_the_tutors_final_answer(client):
    out = client.predict("x = 3 or x = 2", "", _tutor_said("So the roots are \\boxed{x = 2, x = 3}."),
                         api_name="/check")
    assert out.startswith("✅") and "the tutor's final answer" in out and "$$" in out


def test_missing_root_is_named(client):
    out = client.predict("x = 2", "x = 2 or x = 3", [], api_name="/check")
    assert out.startswith("❌") and "3" in out and "reference you gave" in out


def test_money_in_the_history_does_not_confuse_the_reference(client):
    history = _tutor_said('Three pencils cost <span class="currency">&#36;</span>1.20, so \\boxed{1.20}.')
    out = client.predict("1.2", "", history, api_name="/check")
    assert out.startswith("✅")


def test_unreadable_and_injection_answers_get_a_clear_message(client, tmp_path):
    marker = tmp_path / "pwned"
    out = client.predict(f"__import__('os').system('touch {marker}')", "2", [], api_name="/check")
    assert out.startswith("❌") and not marker.exists()
    out = client.predict("2x+", "2x+1", [], api_name="/check")
    assert "2x+" in out and out.startswith("❌")


def test_nothing_to_check_against(client):
    out = client.predict("5", "", [], api_name="/check")
    assert "nothing to check against" in out
