"""The per-session rate limiter, with a controllable clock."""

from ui.limits import RateLimiter


def test_window_slides_and_sessions_are_separate():
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.wait_seconds("a") for _ in range(3)] == [0, 0, 0]
    now[0] = 10
    assert limiter.wait_seconds("a") == 50  # the first of the three leaves the window at t=60
    assert limiter.wait_seconds("b") == 0
    now[0] = 60
    assert limiter.wait_seconds("a") == 0


def test_zero_means_no_limit():
    limiter = RateLimiter(0)
    assert all(limiter.wait_seconds("a") == 0 for _ in range(100))
