"""Faults, each driven through the real parts: a live Gradio server on localhost, real worker processes, a real
subprocess killed with SIGKILL.

- A model that fails to load (missing folder, folder without config.json, out of memory) leaves the old model
  serving, and the teacher's panel says so.
- An engine whose stream raises mid-reply: the student sees the partial text and a notice, the next message works.
- A model swap under live streams (fake engines, then the real transformers CPU backend): replies in flight finish
  on the old engine, none lost or mixed up; with a short drain limit the cut replies end with the switch notice.
- A checker or CAS worker killed while idle or mid-check is replaced, and the next check gets a correct verdict.
- A quantization killed while writing its weights leaves no cache entry, and the next run succeeds.

The teacher panel's events are private to the page (gradio_client refuses them), so :class:`Tab` sends them the
way the browser does. Already covered elsewhere, not repeated here: the switcher without a server
(tests/test_switcher.py), the panel's handlers without a server (tests/test_engine_panel.py), an error chunk from
the engine (tests/test_app_live.py), checker time-outs and out-of-memory workers (tests/test_checker_safety.py),
a quantization that raises or calls ``os._exit`` (tests/test_quantize.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

import checker
from checker.cas_pool import CasPool
from checker.pool import CheckerPool
from checker.verify import compute
from engine.factory import create_engine
from engine.fake import FakeEngine
from engine.settings import EngineSettings
from engine.switcher import SWITCH_NOTICE, EngineSwitcher
from tests.fixtures.faulty import CrashingEngine, LongEchoEngine, long_reply, unmapped_oom_factory
from ui import UIConfig, build_ui
from ui.render import message_text
from ui.teacher import TeacherGate
from tests.fixtures.live import serve

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "teach"
CONFIG = UIConfig(requests_per_minute=0, grounded=False)
KEPT = "The previous model keeps serving."
LENGTH_NOTE = "*(The reply reached the maximum length. Ask me to continue.)*"
SETTINGS = (0.7, 0.9)  # temperature, top-p


class Tab:
    """One browser tab: sends a button's click event the way the page does (queue/join, then the event stream)."""

    def __init__(self, url: str) -> None:
        self.base = url.rstrip("/")
        self.session = uuid.uuid4().hex
        config = httpx.get(f"{self.base}/config").json()
        self._ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
        self._deps = config["dependencies"]

    def click(self, elem_id: str, *data: object) -> list:
        target = self._ids[elem_id]
        dep = next(d for d in self._deps if [target, "click"] in d["targets"])
        with httpx.Client(timeout=120) as http:
            http.post(f"{self.base}/gradio_api/queue/join", json={
                "data": list(data), "fn_index": dep["id"], "session_hash": self.session, "event_data": None,
                "trigger_id": target}).raise_for_status()
            with http.stream("GET", f"{self.base}/gradio_api/queue/data",
                             params={"session_hash": self.session}) as resp:
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        assert message.get("success"), f"the {elem_id} event failed: {message.get('output')}"
                        return [_value(v) for v in message["output"]["data"]]
        raise AssertionError(f"the {elem_id} event never completed")

    def unlock(self) -> None:
        _, message, _ = self.click("unlock", PASSWORD)
        assert message == "Unlocked for this browser tab."

    def apply(self, custom_model: str) -> tuple[str, str]:
        """Apply a custom model folder (the unlocked state comes from this tab's session, not from the data)."""
        message, status, _ = self.click("apply-engine", None, "custom", custom_model, "auto", 0.5, 4096, 64)
        return message, status


def _value(output: object) -> object:
    return output.get("value") if isinstance(output, dict) and output.get("__type__") == "update" else output


def _ask_each(client: Client, texts, *args):
    """One student (a session of its own) per message, since a session streams one reply at a time; returns the
    jobs. The students' clients close with ``client``'s app (``_live``)."""
    students = [Client(client.src, verbose=False) for _ in texts]
    _STUDENTS.extend(students)
    return [student.submit(text, [], *args, api_name="/chat") for student, text in zip(students, texts)]


_STUDENTS: list[Client] = []


@contextmanager
def _live(engine):
    """The app around ``engine`` on a free localhost port, teacher password set; yields (client, tab)."""
    demo = build_ui(engine, CONFIG, gate=TeacherGate(PASSWORD, step=0))
    url = serve(demo)
    client = Client(url, verbose=False)
    try:
        yield client, Tab(url)
    finally:
        client.close()
        while _STUDENTS:
            _STUDENTS.pop().close()
        demo.close()


def _assistant(history) -> str:
    assert history and history[-1]["role"] == "assistant", history
    return message_text(history[-1]["content"])


def _first_user(history) -> str:
    assert history[0]["role"] == "user", history
    return message_text(history[0]["content"])


def _streamed(job) -> str:
    """The assistant's text in a streaming job's latest update ("" before the reply starts)."""
    outputs = job.outputs()
    history = outputs[-1] if outputs else []
    return message_text(history[-1]["content"]) if history and history[-1]["role"] == "assistant" else ""


def _chat(client: Client, text: str, history=(), max_new_tokens: int = 1024):
    history = client.predict(text, list(history), *SETTINGS, max_new_tokens, api_name="/chat")
    return history


def _wait(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


# ---- a. a model that fails to load ----------------------------------------------------------------------------

def _missing_folder(tmp_path, monkeypatch, tiny):
    return str(tmp_path / "no-such-model"), ["no-such-model", "neither 'default', an existing model folder"]


def _folder_without_config(tmp_path, monkeypatch, tiny):
    folder = tmp_path / "weights-only"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    return str(folder), [str(folder), "has no config.json"]


def _out_of_memory(tmp_path, monkeypatch, tiny):
    """The real transformers backend loading a real checkpoint, whose weights do not fit in memory."""
    import transformers

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_memory)
    return str(tiny), ["Not enough memory to load", tiny.name]


@pytest.mark.parametrize("fault", [_missing_folder, _folder_without_config, _out_of_memory])
def test_a_model_that_fails_to_load_leaves_the_old_one_serving(fault, tmp_path, monkeypatch, tiny_model_dir):
    old = FakeEngine(token_delay=0.001, model="old-model")
    sw = EngineSwitcher(old, EngineSettings(backend="transformers", device="cpu"), create_engine)
    custom, expected = fault(tmp_path, monkeypatch, tiny_model_dir)
    with _live(sw) as (client, tab):
        tab.unlock()
        message, status = tab.apply(custom)
        assert message.startswith("⚠️") and message.endswith(KEPT)
        for words in expected:
            assert words in message  # says what failed
        assert "old-model" in status and sw.current is old and not old.closed
        assert _assistant(_chat(client, "still there?")) == "You said: still there?"  # answered by the old engine
    assert [m["content"] for m in old.calls[-1][0] if m["role"] == "user"] == ["still there?"]


def test_an_unmapped_out_of_memory_error_still_leaves_the_old_model_serving():
    """A backend that lets torch.OutOfMemoryError escape: the panel still says what failed, the old model serves."""
    old = FakeEngine(token_delay=0.001, model="old-model")
    sw = EngineSwitcher(old, EngineSettings(backend="fake"), unmapped_oom_factory)
    with _live(sw) as (client, tab):
        tab.unlock()
        message, status = tab.apply("/models/big")
        assert "out of memory" in message.lower() and message.endswith(KEPT)
        assert "old-model" in status and sw.current is old and not old.closed
        assert _assistant(_chat(client, "still there?")) == "You said: still there?"


# ---- b. an engine that crashes mid-reply ----------------------------------------------------------------------

def test_an_engine_crash_mid_reply_shows_the_partial_text_and_a_notice_and_the_next_message_works():
    engine = CrashingEngine(token_delay=0.01, crash_after=3)
    with _live(engine) as (client, _):
        history = _chat(client, "crash me please now")
        text = _assistant(history)
        assert text.startswith("You said: crash\n\n⚠️ ") and "me please" not in text  # the partial text, cut
        assert text.endswith("Your message is kept: send it again.")
        assert _first_user(history) == "crash me please now"
        history = _chat(client, "second", history)
        assert _assistant(history) == "You said: second"
    messages = engine.calls[-1][0]
    assert {"role": "user", "content": "crash me please now"} in messages  # the conversation was kept
    assert engine.active_requests() == 0


# ---- c. a model swap with 8 live streams (fake engines) -------------------------------------------------------

def test_a_model_swap_under_8_live_streams_finishes_every_reply_on_the_old_engine():
    # About 4 s per reply: all 8 must be streaming at once, and on a loaded 2-core CI box the 8 students' turns can
    # start more than 2 s apart (a full-suite run saw 2 s replies never overlap all 8).
    old = LongEchoEngine(words=100, token_delay=0.04, model="old-model")
    new = LongEchoEngine(words=5, token_delay=0.001, model="new-model")
    sw = EngineSwitcher(old, EngineSettings(backend="fake"), lambda settings, progress=None: new)
    nonces = [f"student{i}-{uuid.uuid4().hex[:8]}" for i in range(8)]
    with _live(sw) as (client, tab):
        tab.unlock()
        jobs = _ask_each(client, nonces, *SETTINGS, 1024)
        _wait(lambda: old.active_requests() == 8)
        applied: dict[str, tuple[str, str]] = {}
        teacher = threading.Thread(target=lambda: applied.update(result=tab.apply("/models/new")))
        teacher.start()
        _wait(lambda: sw.current is new)
        assert old.active_requests() > 0  # the swap happened while replies were streaming
        after = _chat(client, "after the swap")
        teacher.join(60)
        results = [job.result(timeout=60) for job in jobs]
    assert _assistant(after) == long_reply("new-model", "after the swap", 5)  # new messages go to the new engine
    for nonce, history in zip(nonces, results):
        assert _first_user(history) == nonce
        assert _assistant(history) == long_reply("old-model", nonce, 100)  # complete, its own, from the old engine
    message, status = applied["result"]
    assert message.startswith("✅ Now serving new-model") and "new-model" in status
    assert sorted(m[0][-1]["content"] for m in old.calls) == sorted(nonces)
    assert list(old.finished.values()) == ["stop"] * 8 and old.aborted == [] and old.closed
    assert sw.active_requests() == 0


def test_replies_cut_by_the_drain_limit_end_with_the_switch_notice_and_the_conversation_is_kept():
    old = LongEchoEngine(words=400, token_delay=0.05, model="old-model")  # 20 s replies: longer than the drain
    new = LongEchoEngine(words=5, token_delay=0.001, model="new-model")
    sw = EngineSwitcher(old, EngineSettings(backend="fake"), lambda settings, progress=None: new, drain_seconds=0.5)
    nonces = [f"student{i}-{uuid.uuid4().hex[:8]}" for i in range(3)]
    with _live(sw) as (client, tab):
        tab.unlock()
        jobs = _ask_each(client, nonces, *SETTINGS, 1024)
        _wait(lambda: all(_streamed(job).startswith(long_reply("old-model", n, 2)) for n, job in zip(nonces, jobs)))
        message, status = tab.apply("/models/new")
        results = [job.result(timeout=30) for job in jobs]
        assert message.startswith("✅ Now serving new-model") and "new-model" in status
        for nonce, history in zip(nonces, results):
            text = _assistant(history)
            assert text.startswith(long_reply("old-model", nonce, 2))  # what was written is kept
            assert text.endswith(f"⚠️ {SWITCH_NOTICE} Your message is kept: send it again.")
            assert len(text.split()) < 400 and _first_user(history) == nonce
        history = _chat(client, "go on", results[0])  # the same conversation, now with the new model
    assert _assistant(history) == long_reply("new-model", "go on", 5)
    sent = new.calls[-1][0]
    assert [m["content"] for m in sent if m["role"] == "user"] == [nonces[0], "go on"]
    cut = long_reply("old-model", nonces[0], 1)
    assert any(m["role"] == "assistant" and m["content"].startswith(cut) for m in sent)  # the cut reply too
    assert sorted(old.finished.values()) == ["abort"] * 3 and old.closed


# ---- d. a model swap on the real CPU backend ------------------------------------------------------------------

@pytest.fixture(scope="module")
def second_tiny_model(tmp_path_factory) -> Path:
    from tests.fixtures.tiny_model import build_tiny_qwen2

    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2-b") / "tiny-qwen2-b", seed=1, hidden=256)


def test_a_model_swap_on_the_real_cpu_backend_under_live_streams(tiny_model_dir, second_tiny_model):
    """The teacher applies a second model; the students' messages sent while it loads go to the old engine, which
    is still generating them when the switcher moves to the new one; every reply completes, then it is closed."""
    clients, tokens = 4, 64
    settings = EngineSettings(backend="transformers", device="cpu", model=str(tiny_model_dir))
    old = create_engine(settings)
    at_swap: list[int] = []

    def factory(new_settings, progress=None):
        built = create_engine(new_settings, progress)
        _wait(lambda: len(old.finished) + old.active_requests() == clients)  # every message reached the old one
        at_swap.append(old.active_requests())  # the switcher moves to ``built`` as soon as this returns
        return built

    sw = EngineSwitcher(old, settings, factory)
    applied: dict[str, tuple[str, str]] = {}
    try:
        with _live(sw) as (client, tab):
            tab.unlock()
            teacher = threading.Thread(target=lambda: applied.update(result=tab.apply(str(second_tiny_model))))
            teacher.start()
            _wait(lambda: sw.switching)  # the new model is loading
            jobs = _ask_each(client, [f"student {i}" for i in range(clients)], 0.0, 1.0, tokens)
            teacher.join(120)
            results = [job.result(timeout=120) for job in jobs]
            after = _chat(client, "after the swap", max_new_tokens=16)
        message, status = applied["result"]
        new = sw.current
        assert message.startswith("✅ Now serving tiny-qwen2-b") and "tiny-qwen2-b" in status
        assert at_swap[0] > 0  # replies were still queued or generating on the old engine at the swap
        assert len(old.finished) == clients  # every client was served by the old engine, to the end:
        for rid, reason in old.finished.items():
            assert reason in ("stop", "length") and 0 < old.tokens_generated[rid] <= tokens
            assert reason == "stop" or old.tokens_generated[rid] == tokens
        texts = []
        for i, history in enumerate(results):
            assert _first_user(history) == f"student {i}"
            texts.append(_assistant(history))
            assert texts[-1] != "…" and "⚠️" not in texts[-1] and "(Stopped.)" not in texts[-1]
        # The page shows each reply's real end (random weights, greedy: mostly newlines up to the length limit).
        assert sum(t.endswith(LENGTH_NOTE) for t in texts) == list(old.finished.values()).count("length")
        assert old.model is None  # the old engine was closed after its replies
        assert list(new.finished.values())[-1] in ("stop", "length") and "⚠️" not in _assistant(after)
        assert new.info.model == "tiny-qwen2-b"
    finally:
        import asyncio

        asyncio.run(sw.close())


# ---- e. a killed checker worker -------------------------------------------------------------------------------

HANGS = "x^1999 - 3x^7 + 1 > 0"  # sympy grinds on this for minutes (see tests/test_checker_safety.py)


def _kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.join(10)
    assert not process.is_alive()


@pytest.fixture(scope="module")
def one_worker():
    with CheckerPool(size=1, timeout=5.0) as pool:
        assert checker.check_answer("2x", "x*2", pool=pool).equivalent  # started and warm
        yield pool


def test_a_checker_worker_killed_while_idle_is_replaced(one_worker):
    [idle] = one_worker._idle
    _kill(idle.process)
    verdict = checker.check_answer("x^2 - 1", "(x-1)(x+1)", pool=one_worker)
    assert verdict.equivalent and verdict.reason != "too_large"


def test_a_checker_worker_killed_mid_check_is_replaced(one_worker):
    assert checker.check_answer("1+1", "2", pool=one_worker).equivalent  # its worker is up and warm
    [worker] = one_worker._idle
    killed = one_worker.killed
    result = {}
    check = threading.Thread(target=lambda: result.update(
        verdict=checker.check_answer(HANGS, "x > 1", pool=one_worker, timeout=60)))
    check.start()
    _wait(lambda: not one_worker._idle)  # the check has the worker
    time.sleep(0.5)  # and is grinding in it
    _kill(worker.process)
    check.join(30)
    assert not check.is_alive()
    verdict = result["verdict"]
    assert not verdict.equivalent and not verdict.timed_out  # noticed at once, not after the 60 s limit
    assert one_worker.killed == killed + 1
    assert checker.check_answer("x^2 - 1", "(x-1)(x+1)", pool=one_worker).equivalent  # served by the replacement
    assert checker.check_answer("1/2", "0.5", pool=one_worker).equivalent


def test_a_cas_worker_killed_while_idle_is_replaced():
    with CasPool(size=1) as pool:
        question = "Solve x^2 - 5x + 6 = 0"
        first = compute(question, pool=pool)
        assert first is not None
        [idle] = pool._idle
        _kill(idle.process)
        assert compute(question, pool=pool) == first  # not None: the next turn still gets sympy's answer


# ---- f. a quantization killed while writing -------------------------------------------------------------------

def test_a_quantization_killed_mid_write_leaves_no_cache_entry(tiny_model_dir, tmp_path, monkeypatch):
    """SIGKILL from outside while the weights file is half written; then the next run cleans up and completes."""
    from safetensors.torch import load_file

    from engine.quantize import METADATA, list_quantized, quantize

    script = textwrap.dedent(f"""
        import time
        import transformers.modeling_utils as mu
        from safetensors.torch import save

        def half_write(tensors, filename, metadata=None):
            data = save(tensors, metadata=metadata)
            with open(filename, "wb") as out:
                out.write(data[: len(data) // 2])
                out.flush()
            print("HALF", len(data), flush=True)
            time.sleep(600)

        mu.safe_save_file = half_write  # save_pretrained's writer: stop this process half-way through the file
        from engine.quantize import quantize
        quantize({str(tiny_model_dir)!r}, calib_samples=4, calib_seqlen=64, device="cpu")
    """)
    cache = tmp_path / "cache"
    env = {**os.environ, "TUTOR_CACHE_DIR": str(cache)}
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:  # a file, not a pipe: progress bars must not fill a pipe nobody reads
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=stderr, text=True)
    try:
        line = next((out for out in proc.stdout if out.startswith("HALF")), "")  # lmdeploy prints to stdout too
        assert line, log.read_text()[-2000:]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    full = int(line.split()[1])
    quantized = cache / "quantized"
    [partial] = [p for p in quantized.iterdir() if p.is_dir()]
    assert partial.name.startswith(".tmp-") and not (partial / METADATA).exists()  # hidden, unfinished
    assert 0 < (partial / "model.safetensors").stat().st_size < full  # the weights really were half written

    monkeypatch.setenv("TUTOR_CACHE_DIR", str(cache))
    assert list_quantized() == []  # nothing that looks finished
    path = quantize(tiny_model_dir, calib_samples=4, calib_seqlen=64, device="cpu")
    assert [p for p in quantized.iterdir() if p.is_dir()] == [path]  # the partial build was removed
    assert [q.path for q in list_quantized()] == [path]
    assert "model.layers.0.mlp.down_proj.qweight" in load_file(str(path / "model.safetensors"))
