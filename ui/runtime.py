"""Python runtime settings for the serving process, applied once the engine and the page are built.

    tune_for_serving()            # ui.chat.launch (app.py, the benchmarks), just before demo.launch()

One process serves every student: Gradio's event loop (every request, queued event and streamed update) and the
engine's Python side (lmdeploy's own loop thread: request queue, detokenizing each step) share one GIL. Two
CPython defaults cost that loop latency under load, and a library cannot change them for us:

- The cyclic garbage collector. A collection holds the GIL, so every thread stops meanwhile, and a full one walks
  every object in the process (torch's, lmdeploy's and Gradio's: millions). ``gc.freeze()`` after start-up puts
  what is loaded by then (modules, the model's Python objects, the Blocks) out of the collector's reach for good;
  a higher first threshold makes young-object collections rarer during a burst of 64 streams, each making
  short-lived dicts for its updates. Frozen objects are never collected, so an engine's ``close`` (a model switch)
  unfreezes them for one full collection and freezes the survivors again (``engine.base.collect_garbage``).
- The GIL's switch interval (5 ms): how long a thread that wants the GIL waits before the holder must give it up.
  In a burst the event loop is the busy thread (64 joins, preprocessing, updates), while lmdeploy's loop thread
  wakes up at every TurboMind step for a little work; the shorter the interval, the more often the event loop is
  made to hand over mid-burst. On the H200 with 64 students, 1 ms measured worst (tried twice, in two stops), 10 ms
  best (20 ms about the same, with the engine's own first text a little later): ``docs/bench/data/h200-run10``.
  Once the chat stopped making a thread hop per component (``ui.inline``), 5 ms measured about the same as 10 ms
  (two runs each, ``h200-run12``), so 10 ms stayed.

Measured, not assumed: ``bench/load.py --gc-threshold / --switch-interval-ms`` runs the load test with other
values (``0`` keeps CPython's default) and reports the collector's pauses (``app.server_gc``). Not covered: the
engine's own threads and processes (lmdeploy, ``engine/``).
"""

from __future__ import annotations

import gc
import sys
from typing import Any

GC_THRESHOLD0 = 50_000  # container allocations between young-generation collections (CPython: 700)
SWITCH_INTERVAL_MS = 10.0  # the GIL's switch interval (CPython: 5 ms)


def tune_for_serving(*, gc_threshold0: int = GC_THRESHOLD0, switch_interval_ms: float = SWITCH_INTERVAL_MS
                     ) -> dict[str, Any]:
    """Freeze what start-up loaded out of the garbage collector's reach and set its first threshold and the GIL's
    switch interval (``0`` for either: leave CPython's value). Returns the settings now in force."""
    gc.collect()
    gc.freeze()
    if gc_threshold0 > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(gc_threshold0, older, oldest)
    if switch_interval_ms > 0:
        sys.setswitchinterval(switch_interval_ms / 1000)
    return {"gc_frozen_objects": gc.get_freeze_count(), "gc_threshold": list(gc.get_threshold()),
            "switch_interval_ms": round(sys.getswitchinterval() * 1000, 3)}
