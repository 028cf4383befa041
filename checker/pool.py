"""A pool of warm worker processes that run checks with a time limit and a memory limit.

Why processes: a check can hang (``9^9^9^9``) or eat memory, and sympy cannot be interrupted from another
thread; Gradio handlers run in threads, so ``signal.alarm`` is not an option. Each worker is started with the
``spawn`` context (the app runs threads and may hold CUDA, where ``fork`` is unsafe), imports sympy and the LaTeX
grammar once, warms up, caps its address space (``RLIMIT_AS``) and then serves one check at a time over a pipe.
A call that does not answer within its time limit gets its worker killed (SIGKILL) and replaced at once, so
the pool stays warm; the caller gets :class:`CheckTimeout`. A worker that dies (memory) gives
:class:`WorkerCrashed`. Many threads may call :meth:`CheckerPool.run` at once: each takes an idle worker, or
waits for one. The pool starts nothing until first used; :func:`default_pool` is the shared one, closed at
interpreter exit. Not covered: what a check does (``checker.worker``).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable

DEFAULT_TIMEOUT = 2.0  # seconds per check
DEFAULT_MEMORY_MB = 1024  # address space a worker may add after start-up
START_TIMEOUT = 120.0  # a cold worker imports sympy; on a loaded 2-core machine this can take a while


def _serve(conn: Any, memory_mb: int) -> None:
    """The worker's entry point; imports sympy there, so the calling process never has to."""
    from checker.worker import serve

    serve(conn, memory_mb)


class CheckTimeout(Exception):
    """The check ran past its time limit; its worker was killed and replaced."""


class WorkerCrashed(Exception):
    """The worker died during the check (most often: it hit its memory limit)."""


class WorkerStartError(WorkerCrashed):
    """A worker could not start (not the check's fault)."""


class PoolClosed(Exception):
    """The pool was closed."""


@dataclass
class _Worker:
    process: Any
    conn: Any
    ready: bool = False

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        try:
            if not self.conn.poll(timeout):
                raise WorkerStartError("the checker worker did not start in time")
            message = self.conn.recv()
        except (EOFError, OSError) as err:
            raise WorkerStartError("the checker worker stopped while starting") from err
        if not (isinstance(message, tuple) and message[0] == "ready"):
            raise WorkerStartError(f"unexpected start-up message {message!r}")
        self.ready = True

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(timeout=2)
        finally:
            self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.process.join(timeout=1)
        except (OSError, ValueError):
            pass
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)
        self.conn.close()


class CheckerPool:
    """``size`` worker processes; ``timeout`` seconds per check; ``memory_mb`` extra address space each."""

    def __init__(self, size: int = 2, timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB,
                 start_timeout: float = START_TIMEOUT) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size, self.timeout, self.memory_mb, self.start_timeout = size, timeout, memory_mb, start_timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)
        self._idle: list[_Worker] = []
        self._running = 0  # workers alive (idle or busy)
        self._closed = False
        self.started = 0  # workers started so far (for tests and the teacher view)
        self.killed = 0

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_serve, args=(child, self.memory_mb), daemon=True,
                                    name="checker-worker")
        process.start()
        child.close()
        self.started += 1
        return _Worker(process, parent)

    def _take(self, wait: float) -> _Worker:
        with self._free:
            while True:
                if self._closed:
                    raise PoolClosed("the checker pool is closed")
                self._drop_dead()
                if self._idle:
                    return self._pick_idle()
                if self._running < self.size:
                    self._running += 1
                    try:
                        return self._spawn()
                    except BaseException:
                        self._running -= 1
                        raise
                if not self._free.wait(timeout=wait):
                    raise CheckTimeout("all checker workers are busy")

    def _drop_dead(self) -> None:
        """Forget idle workers that died while waiting (killed from outside, e.g. by the kernel's OOM killer), so
        the call starts a fresh one instead of failing on a dead pipe. Called with the lock held."""
        for w in [w for w in self._idle if not w.process.is_alive()]:
            self._idle.remove(w)
            w.conn.close()
            self._running -= 1
            self.killed += 1

    def _pick_idle(self) -> _Worker:
        """A warm idle worker if there is one (a replacement may still be importing sympy), else any."""
        for i in range(len(self._idle) - 1, -1, -1):
            w = self._idle[i]
            if w.ready or w.conn.poll(0):
                return self._idle.pop(i)
        return self._idle.pop()

    def _give_back(self, w: _Worker) -> None:
        with self._free:
            if self._closed:
                w.stop()
                self._running -= 1
            else:
                self._idle.append(w)
            self._free.notify()

    def _replace(self, w: _Worker) -> None:
        w.kill()
        with self._free:
            self.killed += 1
            if self._closed:
                self._running -= 1
            else:
                try:
                    self._idle.append(self._spawn())  # warm up the replacement while nobody waits for it
                except BaseException:
                    self._running -= 1
                    raise
                finally:
                    self._free.notify()

    def warm_up(self) -> None:
        """Start every worker now and wait until all are ready (optional: the pool is lazy)."""
        taken = [self._take(self.start_timeout) for _ in range(self.size)]
        for w in taken:
            try:
                w.wait_ready(self.start_timeout)
            except WorkerStartError:
                self._replace(w)
                continue
            self._give_back(w)

    def run(self, answer: str, reference: str, rules: dict[str, Any], timeout: float | None = None,
            queue_timeout: float = 60.0) -> dict[str, Any]:
        """One check in a worker: the verdict as a dict. Raises CheckTimeout, WorkerCrashed or PoolClosed."""
        w = self._take(queue_timeout)
        try:
            w.wait_ready(self.start_timeout)
            w.conn.send((answer, reference, rules))
            if not w.conn.poll(self.timeout if timeout is None else timeout):
                raise CheckTimeout("the check ran past its time limit")
            result = w.conn.recv()
        except (CheckTimeout, WorkerCrashed, EOFError, OSError, BrokenPipeError) as err:
            self._replace(w)
            if isinstance(err, (CheckTimeout, WorkerStartError)):
                raise
            raise WorkerCrashed(str(err) or "the checker worker stopped") from None
        except BaseException:
            self._replace(w)
            raise
        self._give_back(w)
        return result

    def close(self) -> None:
        """Stop idle workers now; busy ones stop when their check ends. Safe to call twice."""
        with self._free:
            self._closed = True
            idle, self._idle = self._idle, []
            self._running -= len(idle)
            self._free.notify_all()
        for w in idle:
            w.stop()

    def __enter__(self) -> "CheckerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_size() -> int:
    """Workers in each default pool (sympy's answers to questions, and the answer checks): three quarters of the
    cores, 2 to 12. Every chat turn asks sympy about its question (15-50 ms for a practice-bank problem), so a class
    of 64 asking at once waits about 64 x that / workers for its first words. Measured on one H200 box (16 cores),
    64 students at once: the tutor's preparation of a turn took p95 304-320 ms with 8 workers, 187-189 ms with 12
    (docs/bench/data/h200-run11). The workers sleep between turns; the rest of the cores are the server's and the
    engine's."""
    return max(2, min(12, (os.cpu_count() or 2) * 3 // 4))


class SharedPool:
    """A process-wide pool made by ``make`` on first use (again after it was closed), closed at interpreter exit."""

    def __init__(self, make: Callable[[], CheckerPool]) -> None:
        self._make, self._pool, self._lock = make, None, threading.Lock()

    def get(self) -> CheckerPool:
        with self._lock:
            if self._pool is None or self._pool._closed:
                self._pool = self._make()
                atexit.register(self._pool.close)
            return self._pool


_shared = SharedPool(lambda: CheckerPool(size=default_size()))


def default_pool() -> CheckerPool:
    """The shared pool (created on first use, closed at interpreter exit)."""
    return _shared.get()
