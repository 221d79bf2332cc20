"""The site's millisecond clock: block timestamps, what is due, consensus timeouts, order
expiry at intake, the stamps on peer requests.

One clock for all of them, read through the module (``clock.now_ms()``), so that a test
that moves it (``monkeypatch.setattr(clock, "now_ms", ...)``) moves it everywhere at once.
"""

import time


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000
