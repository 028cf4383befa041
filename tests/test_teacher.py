"""The teacher gate: right and wrong passwords, no password configured, slower answers after failures."""

import asyncio
import time

from ui.teacher import TeacherGate


def test_right_and_wrong_password():
    gate = TeacherGate("s3cret-class")
    assert asyncio.run(gate.check("s3cret-class"))
    assert not asyncio.run(gate.check("s3cret-clasS"))
    assert not asyncio.run(gate.check(""))
    assert "s3cret" not in repr(gate)


def test_no_password_configured_locks_everything():
    gate = TeacherGate(None)
    assert not gate.enabled
    assert not asyncio.run(gate.check("anything"))


def test_repeated_failures_slow_down_and_success_resets():
    gate = TeacherGate("pw", step=0.25)
    asyncio.run(gate.check("a"))
    asyncio.run(gate.check("b"))
    start = time.monotonic()
    assert not asyncio.run(gate.check("c"))  # third failure in a row waits for the two before it
    assert time.monotonic() - start >= 0.45
    assert asyncio.run(gate.check("pw"))
    start = time.monotonic()
    asyncio.run(gate.check("x"))
    assert time.monotonic() - start < 0.2  # the counter was reset by the success
