"""The wait the meters bridge tells a meter to retry after follows what it measures: longer
while it answers more refusals than it admits readings, back to RETRY_AFTER_MS once it does not."""

from meters.bridge import HeadEndAnswer, MeterBridge, RetryPacer
from meters.topics import RETRY_AFTER_MS


def window_over(pacer: RetryPacer) -> None:
    pacer.started -= pacer.window_s  # as if the window's second had passed


def waits(pacer: RetryPacer, n: int = 200) -> set[int]:
    return {pacer.retry_after_ms() for _ in range(n)}


def spread_of(wait: int) -> range:
    return range(wait - wait // 2, wait + wait // 2 + 1)


def test_a_bridge_that_admits_more_than_it_refuses_tells_the_first_wait_spread():
    pacer = RetryPacer()
    pacer.admitted(100)
    for _ in range(60):
        pacer.refused()
    window_over(pacer)
    told = waits(pacer)
    assert told <= set(spread_of(RETRY_AFTER_MS))
    assert len(told) > 10, "spread, so that meters told together do not come back together"


def test_each_window_of_more_refused_than_admitted_doubles_the_wait_to_the_ceiling():
    pacer = RetryPacer(ceiling_ms=1_000)
    told = []
    for _ in range(4):
        pacer.admitted(10)
        for _ in range(11):
            pacer.refused()
        window_over(pacer)
        pacer.retry_after_ms()
        told.append(pacer.wait_ms)
    assert told == [500, 1_000, 1_000, 1_000]
    assert waits(pacer) <= set(spread_of(1_000))


def test_the_wait_comes_back_down_once_few_are_refused_and_at_once_after_a_quiet_spell():
    pacer = RetryPacer()
    for _ in range(3):
        pacer.refused()
        window_over(pacer)
        pacer.admitted(0)
    assert pacer.wait_ms == 8 * RETRY_AFTER_MS
    pacer.admitted(100)
    for _ in range(30):  # not under a quarter: the wait stays
        pacer.refused()
    window_over(pacer)
    pacer.admitted(100)
    assert pacer.wait_ms == 8 * RETRY_AFTER_MS
    for _ in range(24):  # under a quarter: halved
        pacer.refused()
    window_over(pacer)
    pacer.admitted(0)
    assert pacer.wait_ms == 4 * RETRY_AFTER_MS
    pacer.started -= 2 * pacer.window_s  # nothing came for two windows
    pacer.admitted(0)
    assert pacer.wait_ms == RETRY_AFTER_MS


def test_the_bridge_counts_a_refusal_per_answer_it_publishes_not_per_reading():
    """What the bridge pays for is an answer: a meter's (however many readings it names), a
    head-end's whole message; a head-end's reading refused within its message's one answer is
    not one."""
    bridge = MeterBridge("mqtt://127.0.0.1:1")  # never connected: answers go nowhere
    answer = HeadEndAnswer("pea_headend_7", "b-1")
    for index in range(3):
        bridge._refuse((answer, index), "", "mempool_full", "No room.", retry=True)
    assert len(answer.rejected) == 3
    assert bridge.pacer.refused_n == 0
    bridge._refuse("a" * 64, "", "mempool_full", "No room.", retry=True, nonces=[1, 2, 3])
    assert bridge.pacer.refused_n == 1
