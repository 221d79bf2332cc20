"""The meters core in memory: registration by grid authorities, readings and their refusals, the mint."""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.ledger import errors
from chain.ledger.errors import LedgerError
from meters.ledger import kinds as k
from tests.meters.harness import (
    AFTER_SLOT,
    GENESIS,
    SLOT,
    SLOT_MS,
    T0,
    address,
    new_chain,
    register,
    register_payload,
    report,
)
from tests.trading.harness import TOKEN


@pytest.fixture
def chain():
    return new_chain()


def meter_of(chain, name):
    return chain.store.tables["meter"][address(name)]


# --- registration -------------------------------------------------------------------


def test_the_region_utility_registers_a_meter_and_its_account(chain):
    meter = register(chain, "solar_somchai", authority="MEA")
    record = meter_of(chain, meter)
    assert (record.owner, record.region, record.kind, record.rated_capacity_w) == (
        address("solar_somchai"),
        "bangkok",
        "solar",
        200_000,
    )
    assert record.registered_by == address("MEA") and record.revoked_height == 0
    assert chain.account(meter).nonce == 0 and chain.account(meter).balance == 0


def test_pea_registers_outside_bangkok_and_egat_anywhere(chain):
    register(chain, "wind_korat", authority="PEA", region="northeast", kind="wind")
    register(chain, "solar_somchai", authority="EGAT")


@pytest.mark.parametrize(
    ("authority", "region"),
    [("PEA", "bangkok"), ("MEA", "north"), ("ERC", "bangkok"), ("home_malee", "bangkok")],
)
def test_only_the_region_utility_or_the_grid_operator_registers(chain, authority, region):
    tx = chain.tx(authority, "meter_register", register_payload("solar_somchai", region=region))
    [receipt] = chain.block([tx]).receipts
    assert (receipt.ok, receipt.code) == (False, k.NOT_AUTHORITY)
    assert "meter" not in chain.store.tables or not chain.store.tables["meter"]


def test_a_meter_key_registers_once_and_must_be_fresh(chain):
    register(chain, "solar_somchai")
    again = chain.tx(
        "MEA", "meter_register", {**register_payload("solar_somchai"), "owner": address("home_malee")}
    )
    assert chain.block([again]).receipts[0].code == k.METER_EXISTS
    payload = {**register_payload("solar_somchai", n=1), "meter": address("home_malee")}
    taken = chain.tx("MEA", "meter_register", {**payload, "owner": address("solar_somchai")})
    assert chain.block([taken]).receipts[0].code == k.METER_KEY_IN_USE
    nobody = chain.tx("MEA", "meter_register", {**register_payload("solar_somchai", n=2), "owner": "ab" * 32})
    assert chain.block([nobody]).receipts[0].code == k.UNKNOWN_OWNER


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"region": "mars"}, k.UNKNOWN_REGION),
        ({"kind": "nuclear"}, k.UNKNOWN_METER_KIND),
        ({"rated_capacity_w": 0}, errors.BAD_AMOUNT),
        ({"rated_capacity_w": 1.5}, errors.BAD_AMOUNT),
        ({"meter": "xyz"}, errors.BAD_ADDRESS),
        ({"extra": 1}, errors.BAD_FIELD),
    ],
)
def test_bad_registrations_are_refused_statelessly(change, code):
    with pytest.raises(LedgerError) as refused:
        k.check_register_payload({**register_payload("solar_somchai"), **change}, GENESIS.params)
    assert refused.value.code == code


def test_a_revoked_meter_reports_no_more(chain):
    meter = register(chain, "solar_somchai")
    wrong = chain.tx("PEA", "meter_revoke", {"meter": address(meter)})
    assert chain.block([wrong]).receipts[0].code == k.NOT_AUTHORITY
    assert chain.block([chain.tx("MEA", "meter_revoke", {"meter": address(meter)})]).receipts[0].ok
    assert meter_of(chain, meter).revoked_height == chain.height
    receipt = report(chain, meter, export_wh=1_000)
    assert (receipt.ok, receipt.code) == (False, k.METER_REVOKED)
    assert chain.account("solar_somchai").energy_wh == GENESIS_ENERGY["solar_somchai"]


GENESIS_ENERGY = {a["username"]: a["energy_kwh"] * 1000 for a in GENESIS.accounts}
GENESIS_TOKENS = {a["username"]: a["tokens"] * TOKEN for a in GENESIS.accounts}


# --- readings and the mint -----------------------------------------------------------


def test_a_signed_renewable_reading_mints_energy_and_tokens(chain):
    meter = register(chain, "solar_somchai")
    result = chain.block(
        [
            chain.tx(
                meter,
                "meter_reading",
                {
                    "window_start_ms": SLOT,
                    "window_end_ms": SLOT + SLOT_MS,
                    "import_wh": 300,
                    "export_wh": 12_345,
                },
            )
        ],
        AFTER_SLOT,
    )
    assert result.receipts[0].ok
    owner = chain.account("solar_somchai")
    assert owner.energy_wh == GENESIS_ENERGY["solar_somchai"] + 12_345
    assert owner.balance == GENESIS_TOKENS["solar_somchai"] + 12_345 * 1_000  # 1 token per kWh
    assert result.energy["minted_wh"] == 12_345 and result.energy["minted_units"] == 12_345_000
    record = meter_of(chain, meter)
    assert (record.readings, record.export_wh_total, record.import_wh_total) == (1, 12_345, 300)
    assert (record.minted_wh_total, record.minted_units_total, record.reward_carry) == (12_345, 12_345_000, 0)
    assert (record.last_window_start_ms, record.last_window_end_ms) == (SLOT, SLOT + SLOT_MS)
    energy = chain.store.tables["meter_slot_energy"][f"{SLOT}:{address('solar_somchai')}"]
    assert (energy.export_wh, energy.import_wh, energy.renewable_export_wh) == (12_345, 300, 12_345)
    assert chain.account(meter).nonce == 1 and chain.account(meter).balance == 0
    assert [e["type"] for e in result.events] == ["meter_reading"]


def test_a_consumption_meter_mints_nothing(chain):
    meter = register(chain, "home_malee", kind="consumption", rated_capacity_w=10_000)
    assert report(chain, meter, import_wh=2_000, export_wh=100).ok
    assert chain.account("home_malee").energy_wh == 0
    assert chain.account("home_malee").balance == GENESIS_TOKENS["home_malee"]


def test_fractions_of_a_unit_carry_to_the_next_reading():
    params = {**copy.deepcopy(GENESIS.params), "reward_per_kwh": 333}
    chain = new_chain(params)
    meter = register(chain, "solar_somchai")
    start = SLOT
    for _ in range(3):  # 1 Wh at 333 units/kWh is 0.333 unit each time
        assert report(chain, meter, start=start, end=start + 60_000, export_wh=1).ok
        start += 60_000
    record = meter_of(chain, meter)
    assert (record.minted_units_total, record.reward_carry) == (0, 999)
    assert report(chain, meter, start=start, end=start + 60_000, export_wh=2).ok
    assert (meter_of(chain, meter).minted_units_total, meter_of(chain, meter).reward_carry) == (1, 665)


@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=20), st.integers(1, 5_000_000))
@settings(max_examples=200, deadline=None)
def test_minted_units_are_the_floor_of_the_total_whatever_the_split(exports, reward):
    carry, minted = 0, 0
    for wh in exports:
        units, carry = k.mint_units(wh, reward, carry)
        minted += units
    assert minted == sum(exports) * reward // 1000
    assert 0 <= carry < 1000


# --- refusals -----------------------------------------------------------------------------


def test_a_reading_from_an_account_that_is_not_a_meter_is_refused(chain):
    receipt = report(chain, "home_malee", export_wh=1)
    assert (receipt.ok, receipt.code) == (False, k.UNKNOWN_METER)
    assert chain.account("home_malee").energy_wh == 0


def test_overlapping_and_replayed_windows_are_refused(chain):
    meter = register(chain, "solar_somchai")
    assert report(chain, meter, start=SLOT, end=SLOT + 300_000, export_wh=10).ok
    before = chain.snapshot()
    replay = report(chain, meter, start=SLOT, end=SLOT + 300_000, export_wh=10)
    overlap = report(chain, meter, start=SLOT + 200_000, end=SLOT + 400_000, export_wh=10)
    assert (replay.code, overlap.code) == (k.WINDOW_REPLAYED, k.WINDOW_OVERLAP)
    accounts, _, _ = chain.snapshot()
    assert accounts[address("solar_somchai")] == before[0][address("solar_somchai")]
    assert report(chain, meter, start=SLOT + 300_000, end=SLOT + 400_000, export_wh=10).ok


def test_a_window_in_the_future_is_refused(chain):
    meter = register(chain, "solar_somchai")
    receipt = report(chain, meter, at=SLOT + 60_000, start=SLOT, end=SLOT + 120_000, export_wh=1)
    assert (receipt.ok, receipt.code) == (False, k.WINDOW_IN_FUTURE)
    # within the clock allowance it is accepted
    assert report(chain, meter, at=SLOT + 115_000, start=SLOT, end=SLOT + 120_000, export_wh=1).ok


def test_more_energy_than_the_rating_allows_is_refused(chain):
    meter = register(chain, "solar_somchai", rated_capacity_w=4_000)  # 4 kW: 1,000 Wh per 15 min
    over = report(chain, meter, export_wh=1_001)
    assert (over.ok, over.code) == (False, k.OVER_CAPACITY)
    assert report(chain, meter, import_wh=1_001).code == k.OVER_CAPACITY
    assert chain.account("solar_somchai").energy_wh == GENESIS_ENERGY["solar_somchai"]
    assert report(chain, meter, export_wh=1_000).ok


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"window_start_ms": SLOT, "window_end_ms": SLOT}, k.BAD_WINDOW),
        ({"window_start_ms": SLOT - 60_000, "window_end_ms": SLOT + 60_000}, k.BAD_WINDOW),
        ({"window_start_ms": -5, "window_end_ms": 10}, k.BAD_WINDOW),
        ({"export_wh": -1}, errors.BAD_AMOUNT),
        ({"import_wh": 2.5}, errors.BAD_AMOUNT),
        ({"export_wh": True}, errors.BAD_AMOUNT),
        ({"memo": "x"}, errors.BAD_FIELD),
    ],
)
def test_malformed_readings_are_refused_statelessly(payload, code):
    base = {"window_start_ms": SLOT, "window_end_ms": SLOT + 60_000, "import_wh": 0, "export_wh": 0}
    with pytest.raises(LedgerError) as refused:
        k.check_reading_payload({**base, **payload}, GENESIS.params)
    assert refused.value.code == code


def test_the_max_energy_rounds_up():
    assert k.max_energy_wh(4_000, 15 * 60_000) == 1_000
    assert k.max_energy_wh(1, 1) == 1
    assert T0 < SLOT < AFTER_SLOT
