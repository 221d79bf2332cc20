"""Renewable certificates in memory: issued at settlement, transferred in part, claimed once."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.ledger import errors
from settlement.ledger import certificates
from settlement.ledger.certificates import CLAIMED, HELD, certificate_id_of_trade
from tests.meters.harness import SLOT_MS, new_chain, register, report
from tests.trading.harness import SLOT, address, buy, sell

SETTLE_AT = SLOT + SLOT_MS + 5 * 60_000


def all_certs(chain) -> dict:
    return dict(chain.store.tables.get("certificate", {}))


def certs(chain) -> dict:
    """The certificates trades issued to their buyers (the producer's unsold export aside)."""
    return {k: c for k, c in all_certs(chain).items() if c.trade_id}


def export_certs(chain) -> list:
    return sorted((c for c in all_certs(chain).values() if not c.trade_id), key=lambda c: c.issued_height)


def send(chain, who, kind, payload):
    """One transaction in its own block: (ok, code)."""
    result = chain.block([chain.tx(who, kind, payload)], SETTLE_AT)
    if result.receipts:
        return result.receipts[0].ok, result.receipts[0].code
    return False, result.dropped[0][1].code


def settled_chain(buys_kwh=(30,), export_wh=100_000, source="solar"):
    """solar_somchai sells; home_malee buys each of ``buys_kwh``; the slot settles with ``export_wh``."""
    chain = new_chain()
    register(chain, "solar_somchai", rated_capacity_w=400_000)
    chain.block([chain.tx("solar_somchai", "order_place", sell(kwh=100, price=3_500_000, source=source))])
    for kwh in buys_kwh:
        chain.block([chain.tx("home_malee", "order_place", buy(kwh=kwh, price=4_000_000))])
    assert report(chain, "meter/solar_somchai/0", export_wh=export_wh).ok
    chain.block([], SETTLE_AT)
    return chain


def test_settlement_issues_the_buyer_a_certificate_of_the_delivered_wh():
    chain = settled_chain(buys_kwh=(30, 40), export_wh=50_000)
    first, second = chain.trades()
    issued = certs(chain)
    assert set(issued) == {certificate_id_of_trade(first.trade_id), certificate_id_of_trade(second.trade_id)}
    one = issued[certificate_id_of_trade(first.trade_id)]
    assert (one.holder, one.producer, one.wh, one.status) == (
        address("home_malee"),
        address("solar_somchai"),
        30_000,
        HELD,
    )
    assert (one.delivery_slot_ms, one.source, one.zone, one.origin_id) == (SLOT, "solar", "bangkok", one.key)
    assert issued[certificate_id_of_trade(second.trade_id)].wh == 20_000


def test_nothing_delivered_issues_nothing():
    assert all_certs(settled_chain(export_wh=0)) == {}


def test_the_unsold_export_is_certified_to_the_producer_and_never_twice():
    chain = settled_chain(buys_kwh=(30,), export_wh=100_000)
    [unsold] = export_certs(chain)
    assert (unsold.holder, unsold.producer, unsold.wh, unsold.source, unsold.zone, unsold.status) == (
        address("solar_somchai"),
        address("solar_somchai"),
        70_000,
        "solar",
        "bangkok",
        HELD,
    )
    assert unsold.delivery_slot_ms == SLOT and unsold.trade_id == ""
    chain.block([], SETTLE_AT + 60_000)
    assert len(all_certs(chain)) == 2  # a settled slot is certified once


def test_a_slot_with_export_and_no_trade_is_certified_and_a_late_reading_after_it():
    chain = new_chain()
    register(chain, "solar_somchai", rated_capacity_w=400_000)
    half = SLOT + SLOT_MS // 2
    assert report(chain, "meter/solar_somchai/0", end=half, export_wh=20_000).ok
    chain.block([], SETTLE_AT)
    [first] = export_certs(chain)
    assert (first.holder, first.wh) == (address("solar_somchai"), 20_000)
    # The rest of the slot reported after it settled: certified by the next block, as new Wh.
    late = report(chain, "meter/solar_somchai/0", at=SETTLE_AT, start=half, export_wh=5_000)
    assert late.ok
    chain.block([], SETTLE_AT + 1_000)
    first_again, second = export_certs(chain)
    assert first_again == first and second.wh == 5_000 and second.key != first.key


def test_a_sale_beyond_the_renewable_export_is_delivered_but_certifies_only_the_renewable_wh():
    chain = new_chain()
    register(chain, "solar_somchai", rated_capacity_w=400_000)
    register(chain, "solar_somchai", n=1, kind="consumption", rated_capacity_w=400_000)
    chain.block([chain.tx("solar_somchai", "order_place", sell(kwh=30, price=3_500_000, source="solar"))])
    chain.block([chain.tx("home_malee", "order_place", buy(kwh=30, price=4_000_000))])
    assert report(chain, "meter/solar_somchai/0", export_wh=10_000).ok
    assert report(chain, "meter/solar_somchai/1", export_wh=20_000).ok
    chain.block([], SETTLE_AT)
    [trade] = chain.trades()
    assert trade.delivered_wh == 30_000
    [bought] = certs(chain).values()
    assert bought.wh == 10_000 and export_certs(chain) == []


def test_a_slot_of_several_renewable_kinds_is_certified_as_mixed():
    chain = new_chain()
    register(chain, "solar_somchai", rated_capacity_w=400_000)
    register(chain, "solar_somchai", n=1, kind="wind", rated_capacity_w=400_000)
    assert report(chain, "meter/solar_somchai/0", export_wh=10_000).ok
    assert report(chain, "meter/solar_somchai/1", export_wh=20_000).ok
    chain.block([], SETTLE_AT)
    [unsold] = export_certs(chain)
    assert (unsold.wh, unsold.source, unsold.zone) == (30_000, "mixed", "bangkok")


def test_a_certificate_transfers_in_part_and_whole():
    chain = settled_chain()
    [cert] = certs(chain).values()
    ok, _ = send(
        chain,
        "home_malee",
        "certificate_transfer",
        {"certificate_id": cert.key, "to": address("factory"), "wh": 10_000},
    )
    assert ok
    after = certs(chain)
    assert after[cert.key].wh == 20_000 and after[cert.key].holder == address("home_malee")
    [part] = [c for c in after.values() if c.key != cert.key]
    assert (part.holder, part.wh, part.origin_id, part.status) == (address("factory"), 10_000, cert.key, HELD)
    ok, _ = send(
        chain,
        "factory",
        "certificate_transfer",
        {"certificate_id": part.key, "to": address("home_malee"), "wh": 10_000},
    )
    assert ok
    assert certs(chain)[part.key].holder == address("home_malee") and len(certs(chain)) == 2


def test_a_bulk_claim_retires_several_for_a_beneficiary_once():
    chain = settled_chain(buys_kwh=(30, 40), export_wh=70_000)
    a, b = sorted(certs(chain).values(), key=lambda c: c.wh)
    claims = [{"certificate_id": a.key, "wh": a.wh}, {"certificate_id": b.key, "wh": 15_000}]
    ok, _ = send(
        chain, "home_malee", "certificate_claim", {"claims": claims, "beneficiary": "Wat Phra Kaew school"}
    )
    assert ok
    after = certs(chain)
    assert (after[a.key].status, after[a.key].beneficiary) == (CLAIMED, "Wat Phra Kaew school")
    assert (after[b.key].status, after[b.key].wh) == (HELD, 25_000)
    [part] = [c for c in after.values() if c.key not in (a.key, b.key)]
    assert (part.status, part.wh, part.origin_id, part.claimed_height) == (
        CLAIMED,
        15_000,
        b.key,
        chain.height,
    )
    before = certs(chain)
    for certificate_id in (a.key, part.key):
        ok, code = send(
            chain,
            "home_malee",
            "certificate_claim",
            {"claims": [{"certificate_id": certificate_id, "wh": 1}], "beneficiary": "again"},
        )
        assert (ok, code) == (False, certificates.ALREADY_CLAIMED)
        ok, code = send(
            chain,
            "home_malee",
            "certificate_transfer",
            {"certificate_id": certificate_id, "to": address("factory"), "wh": 1},
        )
        assert (ok, code) == (False, certificates.ALREADY_CLAIMED)
    assert certs(chain) == before


def _claim(cert_id, wh=1, beneficiary="Somchai's family"):
    return {"claims": [{"certificate_id": cert_id, "wh": wh}], "beneficiary": beneficiary}


@pytest.mark.parametrize(
    ("who", "kind", "payload", "code"),
    [
        (
            "home_malee",
            "certificate_transfer",
            lambda c: {"certificate_id": c, "to": address("factory"), "wh": 30_001},
            certificates.INSUFFICIENT_CERTIFICATE,
        ),
        (
            "home_malee",
            "certificate_claim",
            lambda c: _claim(c, 30_001),
            certificates.INSUFFICIENT_CERTIFICATE,
        ),
        (
            "factory",
            "certificate_transfer",
            lambda c: {"certificate_id": c, "to": address("factory"), "wh": 1},
            errors.SELF_TRANSFER,
        ),
        (
            "solar_somchai",
            "certificate_transfer",
            lambda c: {"certificate_id": c, "to": address("factory"), "wh": 1},
            certificates.NOT_HOLDER,
        ),
        ("solar_somchai", "certificate_claim", lambda c: _claim(c), certificates.NOT_HOLDER),
        (
            "home_malee",
            "certificate_transfer",
            lambda c: {"certificate_id": "ab" * 32, "to": address("factory"), "wh": 1},
            certificates.CERTIFICATE_NOT_FOUND,
        ),
        (
            "home_malee",
            "certificate_transfer",
            lambda c: {"certificate_id": c, "to": address("factory"), "wh": 0},
            errors.BAD_AMOUNT,
        ),
        (
            "home_malee",
            "certificate_transfer",
            lambda c: {"certificate_id": c, "to": address("factory"), "wh": -5},
            errors.BAD_AMOUNT,
        ),
        (
            "home_malee",
            "certificate_transfer",
            lambda c: {"certificate_id": c, "to": address("factory"), "wh": True},
            errors.BAD_AMOUNT,
        ),
        (
            "home_malee",
            "certificate_transfer",
            lambda c: {"certificate_id": c.upper(), "to": address("factory"), "wh": 1},
            errors.BAD_FIELD,
        ),
        (
            "home_malee",
            "certificate_transfer",
            lambda c: {"certificate_id": c, "to": address("factory") + "\n", "wh": 1},
            errors.BAD_ADDRESS,
        ),
        ("home_malee", "certificate_claim", lambda c: _claim(c, 0), errors.BAD_AMOUNT),
        ("home_malee", "certificate_claim", lambda c: _claim(c, -1), errors.BAD_AMOUNT),
        ("home_malee", "certificate_claim", lambda c: _claim(c, beneficiary=""), errors.BAD_FIELD),
        ("home_malee", "certificate_claim", lambda c: _claim(c, beneficiary="   "), errors.BAD_FIELD),
        ("home_malee", "certificate_claim", lambda c: _claim(c, beneficiary=" padded"), errors.BAD_FIELD),
        ("home_malee", "certificate_claim", lambda c: _claim(c, beneficiary="a\u202eb"), errors.BAD_FIELD),
        ("home_malee", "certificate_claim", lambda c: _claim(c, beneficiary="x" * 121), errors.BAD_FIELD),
        ("home_malee", "certificate_claim", lambda c: {"claims": [], "beneficiary": "x"}, errors.BAD_FIELD),
        (
            "home_malee",
            "certificate_claim",
            lambda c: {"claims": [{"certificate_id": c, "wh": 1}] * 2, "beneficiary": "x"},
            errors.BAD_FIELD,
        ),
        ("home_malee", "certificate_claim", lambda c: {"claims": [c], "beneficiary": "x"}, errors.BAD_FIELD),
    ],
)
def test_bad_transfers_and_claims_are_refused_and_change_nothing(who, kind, payload, code):
    chain = settled_chain()
    [cert] = certs(chain).values()
    if who == "factory":  # hand the certificate to factory first, so that it is the holder
        assert send(
            chain,
            "home_malee",
            "certificate_transfer",
            {"certificate_id": cert.key, "to": address("factory"), "wh": 30_000},
        )[0]
    before, accounts = certs(chain), dict(chain.store.tables["account"])
    ok, got = send(chain, who, kind, payload(cert.key))
    assert (ok, got) == (False, code)
    assert certs(chain) == before
    after = chain.store.tables["account"]  # a refused transaction still spends its nonce, nothing else
    assert {k: (after[k].balance, after[k].energy_wh) for k in accounts} == {
        k: (a.balance, a.energy_wh) for k, a in accounts.items()
    }


def test_a_bulk_claim_with_one_bad_item_claims_nothing():
    chain = settled_chain(buys_kwh=(30, 40), export_wh=70_000)
    a, b = sorted(certs(chain).values(), key=lambda c: c.wh)
    before = certs(chain)
    claims = [{"certificate_id": a.key, "wh": a.wh}, {"certificate_id": b.key, "wh": b.wh + 1}]
    ok, code = send(chain, "home_malee", "certificate_claim", {"claims": claims, "beneficiary": "x"})
    assert (ok, code) == (False, certificates.INSUFFICIENT_CERTIFICATE)
    assert certs(chain) == before


PEOPLE = ("home_malee", "factory", "school")
operation = st.tuples(
    st.sampled_from(("transfer", "claim")),
    st.sampled_from(PEOPLE),
    st.sampled_from(PEOPLE),
    st.integers(0, 10),
    st.integers(-1, 45_000),
)


@given(
    buys=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    export_wh=st.integers(0, 100_000),
    source=st.sampled_from(("solar", "grid")),
    operations=st.lists(operation, max_size=12),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_issued_is_the_metered_export_and_always_held_plus_claimed(buys, export_wh, source, operations):
    chain = settled_chain(buys_kwh=buys, export_wh=export_wh, source=source)
    renewable = sum(t.delivered_wh for t in chain.trades() if t.source != "grid")
    assert sum(c.wh for c in certs(chain).values()) == renewable  # the buyers' part
    issued = {c.key: c.wh for c in all_certs(chain).values()}
    assert sum(issued.values()) == export_wh  # the meter is solar: every Wh certified once
    claimed_before: dict = {}
    for op, who, to, pick, wh in operations:
        ids = sorted(all_certs(chain))
        if not ids:
            break
        cert_id = ids[pick % len(ids)]
        if op == "transfer":
            send(chain, who, "certificate_transfer", {"certificate_id": cert_id, "to": address(to), "wh": wh})
        else:
            send(chain, who, "certificate_claim", _claim(cert_id, wh, beneficiary=to))
        records = all_certs(chain).values()
        for origin, total in issued.items():
            parts = [c for c in records if c.origin_id == origin]
            assert all(c.wh > 0 for c in parts)
            assert sum(c.wh for c in parts) == total  # held + claimed = issued, per certificate
        claimed = {c.key: c for c in records if c.status == CLAIMED}
        for key, record in claimed_before.items():
            assert claimed[key] == record  # a claimed record never changes again
        claimed_before = claimed
