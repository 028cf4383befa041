"""The serving process's runtime settings (ui/runtime.py) and the load bench's record of the garbage collector's
pauses (bench/_common.GcPauses), which is how their effect is measured."""

import gc
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tuned(*args: str) -> dict:
    """tune_for_serving in a fresh interpreter (it changes process-wide settings), with gradio loaded as the app has
    it: what it returns and what the interpreter reports afterwards."""
    code = ("import gc, json, sys; import gradio; from ui.runtime import tune_for_serving; "
            f"r = tune_for_serving({', '.join(args)}); "
            "print(json.dumps({'returned': r, 'threshold': gc.get_threshold(), 'frozen': gc.get_freeze_count(), "
            "'switch': sys.getswitchinterval()}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_serving_freezes_what_start_up_loaded_and_sets_the_collector_and_the_gil():
    from ui.runtime import GC_THRESHOLD0, SWITCH_INTERVAL_MS

    got = _tuned()
    assert got["frozen"] > 100_000  # gradio's modules and objects: out of the collector's reach
    assert got["threshold"][0] == GC_THRESHOLD0 and got["threshold"][1:] == [10, 10]
    assert abs(got["switch"] * 1000 - SWITCH_INTERVAL_MS) < 1e-6
    assert got["returned"] == {"gc_frozen_objects": got["frozen"], "gc_threshold": got["threshold"],
                               "switch_interval_ms": SWITCH_INTERVAL_MS}


def test_zero_keeps_cpythons_threshold_and_switch_interval_but_still_freezes():
    got = _tuned("gc_threshold0=0", "switch_interval_ms=0")
    assert got["threshold"] == [700, 10, 10] and abs(got["switch"] - 0.005) < 1e-9
    assert got["frozen"] > 100_000


def test_gc_pauses_records_collections_in_its_window_only():
    from bench._common import GcPauses

    pauses = GcPauses()
    try:
        start = time.time()
        for _ in range(1000):  # reference cycles: only the cyclic collector frees them
            a: list = []
            a.append(a)
        gc.collect()
        end = time.time()
    finally:
        pauses.stop()
    gc.collect()  # after stop: not recorded
    seen = pauses.between(start, end)
    assert seen["collections"]["2"] >= 1 and seen["pause_total_ms"] >= seen["pause_max_ms"] > 0
    assert all(t <= end for t, _, _ in pauses.runs)
    assert pauses.between(end + 1, end + 2)["collections"] == {"0": 0, "1": 0, "2": 0}


def test_closing_an_engine_collects_cycles_that_start_up_froze_and_freezes_the_rest_again():
    """The first engine is loaded before the app freezes what start-up made (ui.runtime): when a model switch closes
    it, its reference cycles must still be collected (engine.base.collect_garbage, called by the backends' close),
    or the GPU memory they hold stays taken. A fresh interpreter: freezing is process-wide."""
    code = (
        "import gc, weakref\n"
        "from engine.base import collect_garbage\n"
        "class Engine: pass\n"
        "old = Engine(); old.me = old; ref = weakref.ref(old)\n"
        "gc.freeze(); del old; gc.collect()\n"
        "kept_by_plain_collect = ref() is not None\n"
        "collect_garbage()\n"
        "print(kept_by_plain_collect, ref() is None, gc.get_freeze_count() > 0)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=True)
    assert out.stdout.split() == ["True", "True", "True"]
