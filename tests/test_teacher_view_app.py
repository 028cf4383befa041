"""The teacher's view wired into the real page (build_ui): the tutor's turns are tagged with the student's
question, and the engine panel's memory readout shows after unlocking."""

from __future__ import annotations

import time

from gradio_client import Client

from engine.fake import FakeEngine
from engine.settings import EngineSettings
from engine.switcher import EngineSwitcher
from tests.test_teacher_view import FILLER, _numbers, _reply
from ui import UIConfig, build_ui
from ui.teacher import TeacherGate
from tests.fixtures.live import serve


def test_the_page_meters_the_chat_and_the_teacher_stops_it():
    fake = FakeEngine(token_delay=0.3)
    switcher = EngineSwitcher(fake, EngineSettings(backend="fake"), lambda s, p=None: FakeEngine())
    demo = build_ui(switcher, UIConfig(), gate=TeacherGate("teach", step=0))
    url = serve(demo)
    student, teacher = Client(url, verbose=False), Client(url, verbose=False)
    try:
        job = student.submit(f"What is 2+2? {FILLER}", [], 0.7, 0.9, 1024, api_name="/chat")
        message, *_, memory, numbers, table, _, _, _ = teacher.predict("teach", api_name="/teacher_unlock")
        assert "KV cache per token" in memory  # ui.engine_panel.memory_readout
        deadline = time.monotonic() + 60
        while not table["data"] or table["data"][0][4] == 0:
            assert time.monotonic() < deadline
            numbers, table, *_ = teacher.predict(None, api_name="/teacher_refresh")
        [row] = table["data"]
        assert row[-1].startswith("What is 2+2? w0") and _numbers(numbers)["Active students"] == "1"
        assert teacher.predict(row[0], api_name="/teacher_stop").startswith("Stopped")
        history = job.result(timeout=60)
        assert "*(Stopped.)*" in _reply(history)
        assert fake.aborted and fake.aborted[0].startswith(row[0])
    finally:
        fake.token_delay = 0.0
        student.close()
        teacher.close()
        demo.close()
