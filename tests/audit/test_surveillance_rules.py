"""The surveillance rules on plain facts: thresholds hold at their edges."""

from hypothesis import given
from hypothesis import strategies as st

from audit.ledger import surveillance as s

RULES = s.SurveillanceRules()
A, B, C = "a" * 64, "b" * 64, "c" * 64
MIN = 60_000


def trade(i, seller, buyer, at_ms, price=3_500_000, slot=0):
    return s.TradeFact(f"t{i}", at_ms, slot, buyer, seller, 1000, price)


def test_a_round_trip_inside_the_window_is_a_wash_and_outside_is_not():
    inside = [trade(1, A, B, 0), trade(2, B, A, RULES.wash_window_ms)]
    outside = [trade(1, A, B, 0), trade(2, B, A, RULES.wash_window_ms + 1)]
    assert [f.trade_ids for f in s.wash_trades(inside, RULES)] == [("t1", "t2")]
    assert s.wash_trades(outside, RULES) == []


def test_one_direction_only_is_never_a_wash():
    assert s.wash_trades([trade(i, A, B, i * MIN) for i in range(10)], RULES) == []


def test_a_transfer_near_a_trade_makes_the_pair_related():
    near = s.TransferFact(B, A, RULES.related_transfer_window_ms)
    far = s.TransferFact(B, A, RULES.related_transfer_window_ms + 1)
    [finding] = s.self_dealing([trade(1, A, B, 0)], [near], {}, RULES)
    assert finding.trade_ids == ("t1",) and "sent each other tokens" in finding.summary
    assert s.self_dealing([trade(1, A, B, 0)], [far], {}, RULES) == []


def test_same_owner_is_related_whatever_the_time():
    owners = {A: "x@example.com", B: "x@example.com", C: "y@example.com"}
    findings = s.self_dealing([trade(1, A, B, 0), trade(2, A, C, 0)], [], owners, RULES)
    assert [f.trade_ids for f in findings] == [("t1",)]


def test_an_outlier_needs_enough_trades_and_a_real_deviation():
    normal = [trade(i, A, B, i, price=3_500_000 + i * 10_000) for i in range(5)]
    spike = trade(9, A, C, 9, price=9_000_000)
    assert s.price_outliers(normal, RULES) == []
    assert [f.trade_ids for f in s.price_outliers([*normal, spike], RULES)] == [("t9",)]
    assert s.price_outliers([*normal[:3], spike], RULES) == []  # 4 trades: too few for a range


def test_a_burst_needs_n_cancels_within_m():
    def cancels(gap_ms, n):
        return [s.CancelFact(f"h{i}", A, f"o{i}", i * gap_ms) for i in range(n)]

    window_gap = RULES.burst_window_ms // (RULES.burst_cancels - 1)
    [burst] = s.cancel_bursts(cancels(window_gap, RULES.burst_cancels), RULES)
    assert len(burst.order_ids) == RULES.burst_cancels
    assert s.cancel_bursts(cancels(window_gap + 1, RULES.burst_cancels), RULES) == []
    assert s.cancel_bursts(cancels(0, RULES.burst_cancels - 1), RULES) == []


@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=50))
def test_the_median_is_integer_and_between_the_extremes(values):
    m = s.median(values)
    assert isinstance(m, int) and min(values) <= m <= max(values)
    assert sum(v < m for v in values) <= len(values) // 2
