"""Failed logins per client: free at first, then a growing wait (clock injected)."""

from __future__ import annotations

from archiver.web.throttle import LoginThrottle


class Ticks:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_few_mistakes_cost_nothing_then_each_failure_doubles_the_wait() -> None:
    ticks = Ticks()
    throttle = LoginThrottle(ticks, free_failures=3, first_delay=1.0, max_delay=10.0)
    for _ in range(3):
        assert throttle.wait("a") == 0
        throttle.failed("a")
    assert throttle.wait("a") == 0
    waits = []
    for _ in range(6):
        throttle.failed("a")
        waits.append(throttle.wait("a"))
        ticks.now += waits[-1]
        assert throttle.wait("a") == 0
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_the_wait_runs_down_with_the_clock() -> None:
    ticks = Ticks()
    throttle = LoginThrottle(ticks, free_failures=0, first_delay=8.0)
    throttle.failed("a")
    assert throttle.wait("a") == 8.0
    ticks.now += 5
    assert throttle.wait("a") == 3.0
    ticks.now += 3
    assert throttle.wait("a") == 0


def test_clients_are_counted_apart() -> None:
    throttle = LoginThrottle(Ticks(), free_failures=1)
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.wait("a") > 0
    assert throttle.wait("b") == 0


def test_failures_are_forgotten_after_a_quiet_time() -> None:
    ticks = Ticks()
    throttle = LoginThrottle(ticks, free_failures=2, forget_after=600.0)
    for _ in range(5):
        throttle.failed("a")
    ticks.now += 601
    assert throttle.wait("a") == 0
    throttle.failed("a")
    assert throttle.wait("a") == 0  # counted from zero again


def test_memory_is_bounded() -> None:
    ticks = Ticks()
    throttle = LoginThrottle(ticks, free_failures=0, max_clients=100)
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle) <= 100
    # The newest clients are the ones still remembered.
    assert throttle.wait("10.0.3.231") > 0
