"""The write-back gate: a send rate that holds in every one-second window,
and pauses after 429s and failures."""

import pytest

from app.integrations.mparticle.gate import MAX_PAUSE_SECONDS, SendRate, WritebackGate

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_rate_holds_in_any_one_second_window() -> None:
    clock = Clock()
    rate = SendRate(10, clock)
    async with rate.sending(6):
        pass
    clock.now += 0.4
    async with rate.sending(4):
        pass

    assert rate.wait_seconds(1) == pytest.approx(0.6)
    clock.now += 0.6
    assert rate.wait_seconds(6) == 0.0
    assert rate.wait_seconds(7) == pytest.approx(0.4)


async def test_a_send_in_flight_keeps_its_room_until_it_is_answered() -> None:
    clock = Clock()
    rate = SendRate(10, clock)
    async with rate.sending(10):
        clock.now += 5.0
        assert rate.wait_seconds(1) > 0
    # Counted until a second after its answer, whenever mParticle saw it.
    assert rate.wait_seconds(1) == pytest.approx(1.0)
    clock.now += 1.0
    assert rate.wait_seconds(10) == 0.0


async def test_a_request_larger_than_the_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="exceed"):
        async with SendRate(5).sending(6):
            pass


def test_429_pauses_as_long_as_retry_after_says() -> None:
    clock = Clock()
    gate = WritebackGate(100, 1.0, 60.0, clock)
    assert gate.paused_for() == 0.0

    assert gate.throttled(7) == 7.0
    clock.now += 2
    assert gate.paused_for() == 5.0
    # A shorter pause never cuts a longer one short.
    gate.throttled(1)
    assert gate.paused_for() == 5.0
    assert WritebackGate(100, 1.0, 60.0, clock).throttled(10**6) == MAX_PAUSE_SECONDS


def test_failures_back_off_longer_each_time_with_jitter_until_a_success() -> None:
    clock = Clock()
    gate = WritebackGate(100, 1.0, 60.0, clock)
    pauses = []
    for _ in range(4):
        pauses.append(gate.failed())
        clock.now += 100
    assert 0.5 <= pauses[0] <= 1.0
    assert 1.0 <= pauses[1] <= 2.0
    assert 2.0 <= pauses[2] <= 4.0
    assert 4.0 <= pauses[3] <= 8.0
    gate.succeeded()
    assert gate.failed() <= 1.0
    # A 429 without Retry-After backs off the same way.
    assert gate.throttled(None) <= 2.0
