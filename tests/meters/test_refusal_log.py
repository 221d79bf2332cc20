"""The bridge's log of refused readings stays bounded however many are refused (meters.bridge.RefusalLog)."""

import logging

from meters import bridge as bridge_module
from meters.bridge import RefusalLog


def test_retries_are_counted_faults_logged_up_to_a_bound_and_summed_up_each_interval(caplog, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(bridge_module.time, "monotonic", lambda: clock[0])
    refusals = RefusalLog(interval_s=10, lines_per_interval=2, wait_ms=lambda: 2000)
    with caplog.at_level(logging.INFO, logger="meters.bridge"):
        for _ in range(5000):  # a meter fleet told to retry under overload
            refusals.refused("m1", "mempool_full", "The mempool is full.", retry=True)
        for nonce in range(3):
            refusals.refused("m2", "bad_signature", f"Reading {nonce} is forged.", retry=False)
        lines = [r.getMessage() for r in caplog.records]
        assert lines == [
            "meters bridge: refused a reading of m2: bad_signature Reading 0 is forged.",
            "meters bridge: refused a reading of m2: bad_signature Reading 1 is forged.",
        ]
        clock[0] += 10
        refusals.refused("m3", "duplicate", "Already admitted.", retry=False)
        lines = [r.getMessage() for r in caplog.records]
    assert lines[2:] == [
        "meters bridge: refused in the last 10 s: bad_signature 3, mempool_full 5000; told to wait 2000 ms",
        "meters bridge: refused a reading of m3: duplicate Already admitted.",
    ]
