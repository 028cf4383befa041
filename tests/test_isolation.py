"""Students never see each other's messages: 20 gradio_clients at once against the live app, two turns each;
the load bench's own isolation check (it must find a swapped reply) and its JSON (bench/load.py, fake engine)."""

from __future__ import annotations

import io
import json
import re
import threading

import pytest
from gradio_client import Client

from engine.fake import FakeEngine
from ui import UIConfig, build_ui
from ui.render import message_text
from tests.fixtures.live import serve

STUDENTS = 20
NONCE = re.compile(r"nonce-[0-9a-f]{8}")


@pytest.fixture()
def live():
    from checker.cas_pool import default_cas_pool

    default_cas_pool().warm_up()  # as app.py does at start: 20 cold questions would each wait for a worker
    engine = FakeEngine(token_delay=0.005)
    demo = build_ui(engine, UIConfig(requests_per_minute=0))
    url = serve(demo)
    try:
        yield engine, url
    finally:
        demo.close()


def _texts(history, role):
    return [message_text(m["content"]) for m in history if m["role"] == role]


def test_twenty_students_at_once_each_see_only_their_own_chat(live):
    engine, url = live
    nonces = [f"nonce-{i:08x}" for i in range(0xA000, 0xA000 + STUDENTS)]
    questions = [[f"I am {n}: what is {i} + 1?", f"Still {n}: and {i} + 2?"] for i, n in enumerate(nonces)]
    clients = [Client(url, verbose=False) for _ in range(STUDENTS)]
    histories: dict[int, list] = {}
    failures: list[str] = []
    barrier = threading.Barrier(STUDENTS)

    def student(i: int) -> None:
        try:
            history: list = []
            barrier.wait(60)
            for text in questions[i]:
                history = clients[i].predict(text, history, 0.7, 0.9, 256, api_name="/chat")
            histories[i] = history
        except Exception as err:  # reported below with the student's number
            failures.append(f"student {i}: {err!r}")

    threads = [threading.Thread(target=student, args=(i,)) for i in range(STUDENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for c in clients:
        c.close()
    assert not failures
    for i, history in histories.items():
        assert _texts(history, "user") == questions[i]  # exactly its own messages, in order
        assert _texts(history, "assistant") == [f"You said: {q}" for q in questions[i]]  # and its own echoes
        assert set(NONCE.findall(" ".join(_texts(history, "user") + _texts(history, "assistant")))) == {nonces[i]}
    assert len(histories) == STUDENTS
    # The engine saw each prompt with one student's messages only, and the students really overlapped.
    assert len(engine.calls) == 2 * STUDENTS
    for messages, _ in engine.calls:
        assert len(set(NONCE.findall(" ".join(m["content"] for m in messages if m["role"] != "system")))) == 1
    assert engine.peak_active > 1


def test_the_load_bench_finds_a_reply_in_the_wrong_chat():
    from bench.load import check_isolation, plan_questions

    tags, questions = plan_questions(2, 1)

    def turn(student: int, reply_from: int) -> dict:
        history = [{"role": "user", "content": questions[student][0]},
                   {"role": "assistant", "content": f"You said: {questions[reply_from][0]}"}]
        return {"student": student, "turn": 0, "error": None, "history": history}

    assert check_isolation([turn(0, 0), turn(1, 1)], tags, questions, None, echo=True)["wrong_session"] == 0
    swapped = check_isolation([turn(0, 1), turn(1, 1)], tags, questions, None, echo=True)
    assert swapped["wrong_session"] == 1 and "student 0" in swapped["wrong_session_first"][0]
    # With the engine's records: the reply must be the text written for this student's own prompt.
    records = [{"tags": [tags[i]], "turn": 1, "text": f"You said: {questions[i][0]}"} for i in range(2)]
    checked = check_isolation([turn(0, 1)], tags, questions, records, echo=False)
    assert checked["wrong_session"] == 1 and "another student" in checked["wrong_session_first"][0]
    mixed = records + [{"tags": sorted(tags), "turn": 1, "text": ""}]  # one prompt with both students' messages
    assert check_isolation([turn(0, 0)], tags, questions, mixed, echo=False)["wrong_session"] == 1


def test_load_bench_with_the_fake_engine_reports_a_clean_run(python_runtime):
    from bench import load

    out = io.StringIO()
    assert load.main(["--backend", "fake", "--students", "8", "--turns", "1"], out=out) == 0
    result = json.loads(out.getvalue())
    assert result["benchmark"] == "load" and result["students"] == 8 and result["backend"] == "fake"
    assert result["turns_completed"] == 8 and result["turns_unfinished"] == 0
    assert result["errors"] == 0 and result["error_messages"] == []
    assert result["wrong_session"] == 0
    assert result["isolation_checks"] == {"histories": 8, "replies_matched_engine": 8, "replies_unverified": 0,
                                          "echo_tags": 8, "engine_prompts": 8}
    app, alone = result["app"], result["engine_alone"]
    assert app["tokens"] > 0 and alone["tokens"] == app["tokens"]  # the same prompts, replayed on the engine
    assert alone["concurrency"] == 8 and alone["requests"] == 8
    for key in ("ttft_p50_ms", "ttft_p95_ms", "ttft_max_ms", "turn_latency_p50_ms", "turn_latency_p95_ms"):
        assert app[key] is not None and app[key] > 0
    assert app["ttft_p50_ms"] <= app["ttft_p95_ms"] <= app["ttft_max_ms"]
    assert result["app_vs_engine_throughput"] > 0
    assert result["settings"]["client"] == "gradio_client" and result["machine"]["cpu_cores"] >= 1
    assert result["targets_met"]["errors"] and result["targets_met"]["wrong_session"]
    from ui.runtime import GC_THRESHOLD0, SWITCH_INTERVAL_MS

    # The app was served as app.py serves it (ui.runtime), and the collector's pauses were recorded.
    assert result["settings"]["gc_threshold"][0] == GC_THRESHOLD0 and not result["settings"]["python_defaults"]
    assert result["settings"]["switch_interval_ms"] == SWITCH_INTERVAL_MS
    assert app["server_gc"]["frozen_objects"] > 0 and set(app["server_gc"]["collections"]) == {"0", "1", "2"}
    from checker.pool import default_size

    assert result["settings"]["sympy_workers"] == {"cas": default_size(), "checker": default_size()}
    assert result["settings"]["chat_conversion"] == "event loop"  # ui.inline, as app.py builds the page
    assert result["settings"]["login_check"] == "event loop"  # ui.launch, as app.py serves it
    assert result["settings"]["gradio_client_ssl_verify"] is False  # plain HTTP on loopback: no CA bundle loaded
    # The engine's last token comes before the student's last update (one monotonic clock for both processes).
    assert 0 <= app["ttft_phases"]["after_engine_p50_ms"] <= app["ttft_phases"]["after_engine_p95_ms"]
    # Each message reached Gradio's queue after Send and before the engine was asked.
    parts = app["ttft_phases"]
    assert 0 <= parts["to_gradio_queue_p50_ms"] <= parts["before_engine_p50_ms"]
    assert parts["to_gradio_queue_p95_ms"] <= parts["before_engine_p95_ms"]
    # ... and Gradio started each event after it was queued and before the student read "process starts".
    assert parts["queue_to_start_p50_ms"] >= 0 and parts["start_to_student_p50_ms"] >= 0
    assert 0 <= parts["start_to_engine_p50_ms"] <= parts["before_engine_p95_ms"]  # the engine is asked after it starts
    # The tutor's calls were timed, one of each per turn (the warm-up's are not counted), and put back afterwards.
    import tutor

    assert app["tutor_ms"]["prepare_turn"]["calls"] == 8 and app["tutor_ms"]["finish_reply"]["calls"] == 8
    assert 0 <= app["tutor_ms"]["prepare_turn"]["p50_ms"] <= app["tutor_ms"]["prepare_turn"]["max_ms"]
    assert tutor.prepare_turn.__module__ == "tutor.turn" and tutor.finish_reply.__module__ == "tutor.turn"


def test_the_load_bench_spreads_students_over_processes_and_each_keeps_its_own_chat(python_runtime):
    """bench/load.py's students in two processes against a live app on the fake engine, practice-bank questions:
    every turn completes, every reply is its own student's echo, and the server loop's CPU is read."""
    from bench import load

    out = io.StringIO()
    load.main(["--backend", "fake", "--students", "4", "--turns", "2", "--questions", "bank", "--client", "sse",
               "--client-processes", "2", "--fake-token-delay", "0.001", "--duration-limit", "60",
               "--python-defaults"], out=out)
    result = json.loads(out.getvalue())
    assert result["settings"]["client_processes"] == 2 and result["settings"]["questions"] == "bank"
    assert result["turns_completed"] == 8 and result["errors"] == 0 and result["wrong_session"] == 0
    assert result["isolation_checks"]["echo_tags"] == 8
    assert result["app"]["server_loop_cpu_s"] >= 0 and result["app"]["server_process_cpu_cores"] >= 0
    assert result["settings"]["python_defaults"] and result["settings"]["gc_threshold"] == [700, 10, 10]
    assert result["app"]["server_gc"]["frozen_objects"] == 0


@pytest.mark.parametrize("client", ["sse", "gradio_client"])
def test_the_load_bench_can_send_the_whole_class_to_one_practice_problem(client, python_runtime):
    """``--practice-problem``: every turn carries the problem's id as the tutor panel sends it, and the questions do
    not restate it, so the engine prompts grounded on that problem's sympy answer prove the id reached the tutor
    (the same run without the id gives 0 of them)."""
    from bench import load

    out = io.StringIO()
    load.main(["--backend", "fake", "--students", "4", "--turns", "2", "--client", client, "--client-processes", "1",
               "--practice-problem", "quadratics-03", "--fake-token-delay", "0.001", "--duration-limit", "60"],
              out=out)
    result = json.loads(out.getvalue())
    assert result["settings"]["questions"] == "practice:quadratics-03"
    assert result["turns_completed"] == 8 and result["errors"] == 0 and result["wrong_session"] == 0
    assert result["isolation_checks"]["prompts_on_the_practice_problem"] == 8
