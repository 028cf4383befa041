"""The lmdeploy backend's hand-over from lmdeploy's loop (another thread) to the caller's loop: every output
arrives, in order, and under a burst several arrive per wake-up (the caller's loop is not woken once per token).
The backend itself needs a GPU (tests/gpu)."""

from __future__ import annotations

import asyncio
import random
import threading

from engine.lmdeploy_backend import _Inbox


def test_every_item_arrives_in_order_with_fewer_wake_ups_than_items() -> None:
    n = 20_000

    async def main() -> tuple[list[object], int]:
        inbox = _Inbox(asyncio.get_running_loop())
        producer_loop = asyncio.new_event_loop()  # like lmdeploy's own loop in its daemon thread

        async def produce() -> None:
            rng = random.Random(3)
            for i in range(n):
                inbox.put(i)
                if rng.random() < 0.01:
                    await asyncio.sleep(0.0005)

        thread = threading.Thread(target=lambda: producer_loop.run_until_complete(produce()))
        thread.start()
        got: list[object] = []
        takes = 0
        while len(got) < n:
            got += await inbox.take()
            takes += 1
            if takes % 50 == 0:
                await asyncio.sleep(0.001)  # a busy consumer: outputs pile up meanwhile
        thread.join()
        producer_loop.close()
        return got, takes

    got, takes = asyncio.run(main())
    assert got == list(range(n))
    assert takes < n / 5


def test_a_put_after_the_callers_loop_closed_is_ignored() -> None:
    loop = asyncio.new_event_loop()
    inbox = _Inbox(loop)
    loop.close()
    inbox.put("late")  # no exception: nobody is listening any more
