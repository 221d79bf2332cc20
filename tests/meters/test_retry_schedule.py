"""The wait the meters bridge tells a meter to retry after is its turn: refusals are let back
at the rate the site takes readings, one after another, not all after the same wait."""

import pytest

from meters.bridge import RETRY_CEILING_MS, HeadEndAnswer, MeterBridge, RetrySchedule, TurnsKept
from meters.topics import RETRY_AFTER_MS


def window_over(schedule: RetrySchedule) -> None:
    schedule.started -= schedule.window_s  # as if the window's second had passed


def measured(admitted: int, **options) -> RetrySchedule:
    """A schedule whose last window admitted ``admitted`` readings and refused some, on a clock
    that stands still (a busy machine's moments between two calls would move the turns)."""
    schedule = RetrySchedule(clock=lambda: 1_000.0, **options)
    schedule.admitted(admitted)
    schedule.retry_after_ms()
    window_over(schedule)
    schedule.admitted(0)  # the window is measured
    schedule.next_due = 0.0  # its own refusal is long past
    return schedule


def test_before_anything_is_measured_every_refusal_waits_the_floor():
    schedule = RetrySchedule()
    assert {schedule.retry_after_ms(100) for _ in range(50)} == {RETRY_AFTER_MS}


def test_refusals_take_turns_at_the_rate_the_site_admitted_with_headroom():
    schedule = measured(200)  # 200 a second admitted: 300 a second let back
    first = schedule.retry_after_ms(30)
    second = schedule.retry_after_ms(60)
    third = schedule.retry_after_ms(1)
    assert schedule.rate == pytest.approx(300, rel=0.01)
    assert first == RETRY_AFTER_MS
    assert second - first == pytest.approx(100, abs=2), "30 readings at 300/s: 100 ms later"
    assert third - second == pytest.approx(200, abs=2), "then the 60 readings' 200 ms"


def test_the_wait_never_passes_the_ceiling():
    schedule = measured(10)  # a slow site: the floor of min_rate
    assert schedule.rate == schedule.min_rate
    waits = [schedule.retry_after_ms(1_000) for _ in range(10)]
    assert waits[1] - waits[0] == pytest.approx(10_000, abs=2)
    assert max(waits) == RETRY_CEILING_MS
    assert schedule.queue_ms() == RETRY_CEILING_MS


def test_a_site_that_admitted_nothing_while_refusing_lets_back_min_rate():
    schedule = RetrySchedule(min_rate=50, clock=lambda: 1_000.0)
    schedule.retry_after_ms()
    window_over(schedule)
    schedule.next_due = 0.0
    assert schedule.retry_after_ms(50) == RETRY_AFTER_MS
    assert schedule.retry_after_ms(1) == pytest.approx(RETRY_AFTER_MS + 1_000, abs=2)


def test_once_the_schedule_caught_up_with_the_clock_the_floor_again():
    schedule = measured(200)
    schedule.retry_after_ms(3_000)  # ten seconds of turns
    assert schedule.queue_ms() == pytest.approx(RETRY_AFTER_MS + 10_000, abs=2)
    schedule.next_due -= 20  # twenty seconds later
    assert schedule.retry_after_ms() == RETRY_AFTER_MS


def test_a_window_without_refusals_only_raises_the_rate_and_a_quiet_spell_forgets_it():
    schedule = measured(200)
    schedule.admitted(400)  # all that came was taken
    window_over(schedule)
    schedule.admitted(0)
    assert schedule.rate == pytest.approx(600, rel=0.01)
    schedule.admitted(10)
    window_over(schedule)
    schedule.admitted(0)
    assert schedule.rate == pytest.approx(600, rel=0.01), "a light window says nothing of capacity"
    schedule.started -= 2 * schedule.window_s  # nothing came for two windows
    schedule.admitted(0)
    assert schedule.rate is None
    assert {schedule.retry_after_ms(100) for _ in range(5)} == {RETRY_AFTER_MS}


def test_the_bridge_takes_a_turn_for_each_reading_a_refusal_names():
    """A meter's answer naming three nonces takes three readings' turn; a head-end's readings
    refused within its message's one answer take one each."""
    bridge = MeterBridge("mqtt://127.0.0.1:1")  # never connected: answers go nowhere
    bridge.schedule = measured(200)
    answer = HeadEndAnswer("pea_headend_7", "b-1")
    for index in range(3):
        bridge._refuse((answer, index), "", "mempool_full", "No room.", retry=True)
    waits = [entry["retry_after_ms"] for entry in answer.rejected]
    assert [w - waits[0] for w in waits] == pytest.approx([0, 3.3, 6.7], abs=2)
    bridge._refuse("a" * 64, "", "mempool_full", "No room.", retry=True, nonces=list(range(300)))
    assert bridge.schedule.queue_ms() - waits[0] == pytest.approx(1_010, abs=3)


def test_a_meter_told_back_from_a_nonce_keeps_its_later_readings_for_that_turn():
    turns = TurnsKept(grace_s=5)
    turns.told_back("", "m" * 64, 7, 2_000)
    turns.told_back("", "m" * 64, 9, 100)  # a later refusal of the same meter: the first turn holds
    turns.told_back("", "n" * 64, "7", 100)  # not a nonce: not kept
    pending = [("m" * 64, {"sender": "m" * 64, "nonce": n}) for n in (8, 9)]
    pending.append(("n" * 64, {"sender": "n" * 64, "nonce": 8}))
    in_turn, early = turns.out_of_turn(pending)
    assert in_turn == pending[2:]
    assert [(wire["nonce"], 1_900 <= wait <= 2_000) for _, wire, wait in early] == [(8, True), (9, True)]
    # Sent again from its nonce: in turn, and forgotten.
    back = [("m" * 64, {"sender": "m" * 64, "nonce": n}) for n in (7, 8)]
    assert turns.out_of_turn(back) == (back, [])
    assert not turns.told


def test_a_meter_that_never_comes_back_is_forgotten_after_the_grace():
    turns = TurnsKept(grace_s=5, limit=2)
    turns.told_back("", "m" * 64, 7, 0)
    turns.told[("", "m" * 64)] = (7, turns.told[("", "m" * 64)][1] - 6)  # its turn was six seconds ago
    later = [("m" * 64, {"sender": "m" * 64, "nonce": 8})]
    assert turns.out_of_turn(later) == (later, [])
    for meter in ("a", "b", "c"):
        turns.told_back("", meter * 64, 1, 100)
    assert list(turns.told) == [("", "b" * 64), ("", "c" * 64)], "the oldest forgotten past the limit"


def test_a_turn_binds_the_way_it_was_told():
    """A reading on a head-end's topic in a meter's name, refused for room unverified, does not
    hold back the readings the meter sends on its own topic, nor those of another head-end."""
    turns = TurnsKept()
    turns.told_back("pea_headend_7", "m" * 64, 7, 2_000)
    own = [("m" * 64, {"sender": "m" * 64, "nonce": 8})]
    other = [((HeadEndAnswer("mea_headend_1", "b-1"), 0), {"sender": "m" * 64, "nonce": 8})]
    same = [((HeadEndAnswer("pea_headend_7", "b-2"), 0), {"sender": "m" * 64, "nonce": 8})]
    assert turns.out_of_turn(own) == (own, [])
    assert turns.out_of_turn(other) == (other, [])
    in_turn, early = turns.out_of_turn(same)
    assert (in_turn, [wire["nonce"] for _, wire, _ in early]) == ([], [8])
