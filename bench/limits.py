"""What bounds a benchmark on this machine, measured in the same run.

Every site verifies every transaction's ed25519 signature once (at intake, or when a
peer's block brings it), so a network of ``sites`` on ``cores`` cores can finalize
at most cores / (sites × one verify) transactions a second, whatever else it does.
Machines differ by 2x from one day to the next; the ratio of a figure to this limit
(``efficiency``) is what stays comparable.
"""

import os
import statistics
import time

from nacl.signing import SigningKey

#: Signatures verified per sample, and samples taken: the median of the samples is quoted.
BATCH = 500
SAMPLES = 7


def cores() -> int:
    return len(os.sched_getaffinity(0))


def verify_seconds() -> float:
    """One ed25519 verify (PyNaCl, as admission does), the median over SAMPLES batches."""
    key = SigningKey(bytes(range(32)))
    verify_key = key.verify_key
    signed = [key.sign(f"gridtokenx bench {i}".encode()) for i in range(BATCH)]
    samples = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        for message in signed:
            verify_key.verify(message)
        samples.append((time.perf_counter() - start) / BATCH)
    return statistics.median(samples)


def signature_limit(*, sites: int, finalized_tx_per_s: float, verify_s: float | None = None) -> dict:
    """The figures every speed benchmark prints beside its own: the limit and the ratio to it."""
    verify_s = verify_seconds() if verify_s is None else verify_s
    limit = cores() / (sites * verify_s)
    return {
        "cores": cores(),
        "verify_us": round(verify_s * 1e6, 1),
        "limit_tx_per_s": round(limit, 1),
        "efficiency": round(finalized_tx_per_s / limit, 3),
    }
