"""Market surveillance rules: plain functions over trades, transfers and cancels.

Deterministic and integer-only, so a finding can be re-derived by anyone from
the same chain data. Thresholds are arguments (defaults in SurveillanceRules)
and documented in docs/AUDIT.md.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from chain.units import kwh_text

WASH = "wash_trade"
SELF_DEALING = "self_dealing"
PRICE_OUTLIER = "price_outlier"
CANCEL_BURST = "cancel_burst"
RULE_LABELS = {
    WASH: "Wash trade",
    SELF_DEALING: "Self-dealing",
    PRICE_OUTLIER: "Price outlier",
    CANCEL_BURST: "Cancel burst",
}


@dataclass(frozen=True, slots=True)
class SurveillanceRules:
    #: A buy and a sell between the same two accounts in both directions within this window.
    wash_window_ms: int = 3_600_000
    #: Accounts that sent each other tokens within this window of a trade are related.
    related_transfer_window_ms: int = 24 * 3_600_000
    #: A price is an outlier outside median ± k × MAD of its slot's trades ...
    outlier_k: int = 5
    #: ... and at least this far from the median (per mille of it), so that a slot whose
    #: trades all share one price (MAD 0) does not flag every small difference.
    outlier_min_deviation_permille: int = 200
    #: Slots with fewer trades than this have no meaningful range.
    outlier_min_trades: int = 5
    #: N cancels by one account within M ms is a burst.
    burst_cancels: int = 5
    burst_window_ms: int = 60_000


@dataclass(frozen=True, slots=True)
class TradeFact:
    trade_id: str
    timestamp_ms: int
    delivery_slot_ms: int
    buyer: str
    seller: str
    energy_wh: int
    price_per_kwh: int


@dataclass(frozen=True, slots=True)
class TransferFact:
    sender: str
    recipient: str
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class CancelFact:
    tx_hash: str
    sender: str
    order_id: str
    timestamp_ms: int


@dataclass(frozen=True)
class Finding:
    rule: str
    accounts: tuple[str, ...]
    summary: str
    trade_ids: tuple[str, ...] = ()
    order_ids: tuple[str, ...] = ()
    tx_hashes: tuple[str, ...] = ()
    #: The time the finding concerns (its first trade or cancel), Unix ms.
    at_ms: int = 0
    details: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return RULE_LABELS[self.rule]


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def wash_trades(trades: Iterable[TradeFact], rules: SurveillanceRules) -> list[Finding]:
    """Pairs of accounts that traded with each other in both directions within the window.

    One finding per pair and window: the trades of both directions that fall
    within ``wash_window_ms`` of a trade in the opposite direction.
    """
    by_pair: dict[tuple[str, str], list[TradeFact]] = defaultdict(list)
    for t in trades:
        by_pair[_pair(t.buyer, t.seller)].append(t)
    findings = []
    for pair, pair_trades in sorted(by_pair.items()):
        pair_trades.sort(key=lambda t: (t.timestamp_ms, t.trade_id))
        flagged: list[TradeFact] = []
        for t in pair_trades:
            opposite = [
                o
                for o in pair_trades
                if o.seller == t.buyer and abs(o.timestamp_ms - t.timestamp_ms) <= rules.wash_window_ms
            ]
            if opposite:
                flagged.append(t)
        if flagged:
            energy = sum(t.energy_wh for t in flagged)
            findings.append(
                Finding(
                    WASH,
                    pair,
                    f"{len(flagged)} trades back and forth between the same two accounts "
                    f"({kwh_text(energy)} kWh) within {rules.wash_window_ms // 60_000} min of each other.",
                    trade_ids=tuple(t.trade_id for t in flagged),
                    at_ms=flagged[0].timestamp_ms,
                    details={"energy_wh": energy},
                )
            )
    return findings


def related_pairs(
    transfers: Iterable[TransferFact], owners: dict[str, str]
) -> dict[tuple[str, str], list[TransferFact]]:
    """Which accounts are related: one owner holds both, or they sent each other tokens.

    ``owners`` maps an address to who owns it (e.g. a person's e-mail); two
    addresses with the same owner are related at all times (empty list).
    """
    related: dict[tuple[str, str], list[TransferFact]] = {}
    by_owner: dict[str, list[str]] = defaultdict(list)
    for address, owner in owners.items():
        if owner:
            by_owner[owner].append(address)
    for addresses in by_owner.values():
        addresses.sort()
        for i, a in enumerate(addresses):
            for b in addresses[i + 1 :]:
                related[(a, b)] = []
    for t in transfers:
        if t.sender != t.recipient:
            related.setdefault(_pair(t.sender, t.recipient), []).append(t)
    return related


def self_dealing(
    trades: Iterable[TradeFact],
    transfers: Iterable[TransferFact],
    owners: dict[str, str],
    rules: SurveillanceRules,
) -> list[Finding]:
    """Trades between related accounts: same owner, or tokens passed between them near the trade."""
    related = related_pairs(transfers, owners)
    hits: dict[tuple[str, str], list[TradeFact]] = defaultdict(list)
    reasons: dict[tuple[str, str], str] = {}
    for t in trades:
        pair = _pair(t.buyer, t.seller)
        if pair not in related:
            continue
        links = related[pair]
        if not links:
            hits[pair].append(t)
            reasons[pair] = "one owner holds both accounts"
        elif any(
            abs(link.timestamp_ms - t.timestamp_ms) <= rules.related_transfer_window_ms for link in links
        ):
            hits[pair].append(t)
            reasons.setdefault(pair, "the accounts sent each other tokens around the trades")
    return [
        Finding(
            SELF_DEALING,
            pair,
            f"{len(pair_trades)} trade(s) between related accounts: {reasons[pair]}.",
            trade_ids=tuple(t.trade_id for t in sorted(pair_trades, key=lambda t: t.timestamp_ms)),
            at_ms=min(t.timestamp_ms for t in pair_trades),
        )
        for pair, pair_trades in sorted(hits.items())
    ]


def median(values: list[int]) -> int:
    """The median, rounded down for an even count (integers only)."""
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) // 2


def price_outliers(trades: Iterable[TradeFact], rules: SurveillanceRules) -> list[Finding]:
    """Trades priced outside median ± max(k × MAD, min deviation) of their delivery slot."""
    by_slot: dict[int, list[TradeFact]] = defaultdict(list)
    for t in trades:
        by_slot[t.delivery_slot_ms].append(t)
    findings = []
    for slot, slot_trades in sorted(by_slot.items()):
        if len(slot_trades) < rules.outlier_min_trades:
            continue
        prices = [t.price_per_kwh for t in slot_trades]
        mid = median(prices)
        mad = median([abs(p - mid) for p in prices])
        band = max(rules.outlier_k * mad, mid * rules.outlier_min_deviation_permille // 1000)
        for t in sorted(slot_trades, key=lambda t: (t.timestamp_ms, t.trade_id)):
            if abs(t.price_per_kwh - mid) > band:
                findings.append(
                    Finding(
                        PRICE_OUTLIER,
                        (t.seller, t.buyer),
                        f"price {t.price_per_kwh} units/kWh is outside the slot's range "
                        f"{mid - band}..{mid + band} (median {mid}, MAD {mad}, {len(prices)} trades).",
                        trade_ids=(t.trade_id,),
                        at_ms=t.timestamp_ms,
                        details={
                            "slot_ms": slot,
                            "median": mid,
                            "mad": mad,
                            "low": mid - band,
                            "high": mid + band,
                        },
                    )
                )
    return findings


def cancel_bursts(cancels: Iterable[CancelFact], rules: SurveillanceRules) -> list[Finding]:
    """Accounts that cancelled at least N orders within M ms.

    Every cancel inside some M-ms window holding N or more is flagged; flagged
    cancels next to each other make one finding (one burst).
    """
    by_sender: dict[str, list[CancelFact]] = defaultdict(list)
    for c in cancels:
        by_sender[c.sender].append(c)
    findings = []
    for sender, sender_cancels in sorted(by_sender.items()):
        sender_cancels.sort(key=lambda c: (c.timestamp_ms, c.tx_hash))
        flagged: set[int] = set()
        start = 0
        for end, cancel in enumerate(sender_cancels):
            while cancel.timestamp_ms - sender_cancels[start].timestamp_ms > rules.burst_window_ms:
                start += 1
            if end - start + 1 >= rules.burst_cancels:
                flagged.update(range(start, end + 1))
        burst: list[CancelFact] = []
        previous = None
        for index in sorted(flagged):
            if burst and index != previous + 1:
                findings.append(_burst_finding(sender, burst, rules))
                burst = []
            burst.append(sender_cancels[index])
            previous = index
        if burst:
            findings.append(_burst_finding(sender, burst, rules))
    return findings


def _burst_finding(sender: str, burst: list[CancelFact], rules: SurveillanceRules) -> Finding:
    span_s = (burst[-1].timestamp_ms - burst[0].timestamp_ms) // 1000
    return Finding(
        CANCEL_BURST,
        (sender,),
        f"{len(burst)} orders cancelled within {span_s} s "
        f"(threshold {rules.burst_cancels} within {rules.burst_window_ms // 1000} s).",
        order_ids=tuple(c.order_id for c in burst),
        tx_hashes=tuple(c.tx_hash for c in burst),
        at_ms=burst[0].timestamp_ms,
    )
