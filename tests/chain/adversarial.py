"""Hostile values for every field of every kind: the strategies of the adversarial suite.

Each kind has a valid payload (``VALID``), signed by an account that can make it
succeed. A hostile transaction is one of those with one field, at any depth,
replaced by a value built to slip past a sloppy check: the valid value with
whitespace or a newline around or inside it, in upper case, with full-width
digits, a NUL, a lone surrogate or a bidi mark in it; an integer at a boundary
(0, -1, 2^53, 2^63) or a bool, float or string where an integer goes; a list or
an object where text goes; deep nesting; or an extra or a missing key.
"""

import copy
import json
import re

from hypothesis import strategies as st

from chain.consensus.machine import PREVOTE, Message
from chain.consensus.messages import sign_message
from chain.ledger.block import execute_block
from chain.ledger.errors import LedgerError
from chain.ledger.genesis import demo_key, load_genesis
from chain.ledger.keys import address_of
from chain.ledger.kinds import get_kind
from chain.ledger.state import MemoryStore, State
from chain.ledger.tx import Transaction, parse_transaction, sign_transaction
from chain.ledger.wire import json_decode
from chain.services.blocks.check import execution_unwritable
from chain.store import records_unwritable
from settlement.ledger.certificates import HELD, Certificate, certificate_id_of_trade
from tests.conftest import GENESIS_PATH
from tests.trading.harness import SLOT, T0, MemoryChain, check_invariants

GENESIS = load_genesis(GENESIS_PATH)


def addr(who: str) -> str:
    return address_of(demo_key(who))


NEW_KEY = addr("adversarial-new-meter")
FULL_WIDTH = str.maketrans("0123456789abcdef", "０１２３４５６７８９ａｂｃｄｅｆ")

#: kind -> (sender, a payload the sender may send)
VALID: dict[str, tuple[str, dict]] = {
    "transfer": ("factory_rayong", {"to": addr("home_malee"), "amount": 5, "memo": "rent"}),
    "stake_bond": ("factory_rayong", {"amount": 5}),
    "stake_unbond": ("EGAT", {"amount": 5}),
    "validator_set_mining": ("MEA", {"mining": False}),
    "order_place": (
        "wind_korat",
        {
            "side": "sell",
            "energy_wh": 1000,
            "price_per_kwh": 3_000_000,
            "zone": "bangkok",
            "delivery_slot": SLOT,
            "source": "wind",
            "expires_ms": T0 + 600_000,
            "counterparty": addr("home_malee"),
        },
    ),
    "order_cancel": ("wind_korat", {"order_id": "ab" * 32}),
    "grid_report": (
        "EGAT",
        {
            "time_ms": T0,
            "regions": [
                {
                    "region": "bangkok",
                    "frequency_mhz": 50_000,
                    "voltage_permille": 1_000,
                    "load_kw": 1_000,
                    "generation_kw": 900,
                    "renewable_ppm": 100_000,
                    "carbon_g_per_kwh": 500,
                }
            ],
            "paths": [{"zone_a": "central", "zone_b": "bangkok", "flow_kw": 10}],
        },
    ),
    "grid_path_limit": (
        "EGAT",
        {
            "zone_a": "central",
            "zone_b": "bangkok",
            "from_slot": SLOT + 3_600_000,
            "congested": False,
            "capacity_mw": 10,
            "reason": "maintenance",
        },
    ),
    "governance_propose": (
        "EGAT",
        {
            "title": "Faster blocks",
            "description": "Line one\nline two",
            "action": "param_change",
            "param": "block_interval_ms",
            "value": 900,
        },
    ),
    "governance_vote": ("EGAT", {"proposal_id": "cd" * 32, "option": "yes"}),
    "validator_register": (
        "EGAT",
        {
            "public_key": addr("adversarial-validator"),
            "name": "New site",
            "url": "https://new.example",
            "region": "north",
            "authority": False,
            "active": False,
        },
    ),
    "validator_set_active": ("EGAT", {"public_key": addr("MEA"), "active": True}),
    "validator_unjail": ("EGAT", {"public_key": addr("MEA")}),
    "meter_register": (
        "EGAT",
        {
            "meter": NEW_KEY,
            "owner": addr("home_malee"),
            "region": "bangkok",
            "kind": "solar",
            "rated_capacity_w": 5_000,
        },
    ),
    "meter_revoke": ("EGAT", {"meter": NEW_KEY}),
    "meter_reading": (
        "adversarial-new-meter",
        {"window_start_ms": T0 - 60_000, "window_end_ms": T0, "import_wh": 0, "export_wh": 10},
    ),
    "evidence_double_sign": (
        "home_malee",
        {
            "first": {
                "type": "prevote",
                "height": 1,
                "round": 0,
                "sender": addr("EGAT"),
                "block_hash": "ab" * 32,
                "signature": "00" * 64,
            },
            "second": {
                "type": "prevote",
                "height": 1,
                "round": 0,
                "sender": addr("EGAT"),
                "block_hash": "cd" * 32,
                "signature": "00" * 64,
            },
        },
    ),
    "token_mint": ("EGAT", {"to": addr("adversarial-newcomer"), "amount": 5, "reference": "TU000000000001"}),
    "cashout_request": ("home_malee", {"amount": 5}),
    "token_burn": (
        "EGAT",
        {"cashout_id": "ab" * 32, "owner": addr("home_malee"), "amount": 5, "reference": "CO000000000001"},
    ),
    "cashout_release": (
        "EGAT",
        {"cashout_id": "ab" * 32, "owner": addr("home_malee"), "reason": "No bank account"},
    ),
    "topup_request": (
        "MEA",
        {"to": addr("adversarial-newcomer"), "amount": 5, "reference": "TU000000000002"},
    ),
    "topup_refuse": ("EGAT", {"reference": "TU000000000002", "reason": "No payment arrived"}),
    "agreement_offer": (
        "factory_rayong",
        {
            "counterparty": addr("solar_somchai"),
            "side": "buy",
            "zone": "bangkok",
            "source": "solar",
            "energy_wh": 5_000,
            "price_per_kwh": 3_200_000,
            "first_slot": SLOT,
            "last_slot": SLOT + 900_000,
        },
    ),
    "agreement_accept": ("solar_somchai", {"agreement_id": ""}),
    "agreement_end": ("factory_rayong", {"agreement_id": ""}),
    "certificate_transfer": ("home_malee", {"certificate_id": "", "to": addr("factory_rayong"), "wh": 400}),
    "certificate_claim": (
        "home_malee",
        {"claims": [{"certificate_id": "", "wh": 1_000}], "beneficiary": "Malee's home"},
    ),
}

#: Records a kind's valid payload needs that no transaction can make in one block (a certificate
#: is issued only when a slot settles): put in the chain's state before its set-up.
HELD_CERTIFICATE = Certificate(
    certificate_id=certificate_id_of_trade("ef" * 32),
    origin_id=certificate_id_of_trade("ef" * 32),
    trade_id="ef" * 32,
    holder=addr("home_malee"),
    producer=addr("solar_somchai"),
    delivery_slot_ms=SLOT,
    source="solar",
    zone="bangkok",
    wh=1_000,
    status=HELD,
    issued_height=0,
)
SEED_RECORDS = {kind: [HELD_CERTIFICATE] for kind in ("certificate_transfer", "certificate_claim")}
VALID["certificate_transfer"][1]["certificate_id"] = HELD_CERTIFICATE.certificate_id
VALID["certificate_claim"][1]["claims"][0]["certificate_id"] = HELD_CERTIFICATE.certificate_id


def _signed(who: str, kind: str, payload: dict, nonce: int = 0):
    return sign_transaction(demo_key(who), chain_id=GENESIS.chain_id, nonce=nonce, kind=kind, payload=payload)


#: Transactions a kind's valid payload needs run first (the order it cancels, the proposal it
#: votes on, the meter it reads), in a block before the hostile one: kind -> signed transactions.
SETUP = {
    "order_cancel": [_signed("wind_korat", "order_place", VALID["order_place"][1])],
    "governance_vote": [_signed("EGAT", "governance_propose", VALID["governance_propose"][1])],
    "meter_revoke": [_signed("EGAT", "meter_register", VALID["meter_register"][1])],
    "meter_reading": [_signed("EGAT", "meter_register", VALID["meter_register"][1])],
    "topup_refuse": [_signed("MEA", "topup_request", VALID["topup_request"][1])],
}
VALID["order_cancel"][1]["order_id"] = SETUP["order_cancel"][0].hash
# The offer an acceptance or an end answers.
for _kind in ("agreement_accept", "agreement_end"):
    SETUP[_kind] = [_signed("factory_rayong", "agreement_offer", VALID["agreement_offer"][1])]
    VALID[_kind][1]["agreement_id"] = SETUP[_kind][0].hash
# The cash-out that a burn pays or a release refuses.
for _kind in ("token_burn", "cashout_release"):
    SETUP[_kind] = [_signed("home_malee", "cashout_request", VALID["cashout_request"][1])]
    VALID[_kind][1]["cashout_id"] = SETUP[_kind][0].hash
VALID["governance_vote"][1]["proposal_id"] = SETUP["governance_vote"][0].hash
# MEA signs two prevotes for one height and round: the evidence jails it, which unjail undoes.
_double_votes = [
    sign_message(demo_key("MEA"), GENESIS.chain_id, Message(PREVOTE, 7, 2, addr("MEA"), block_hash))
    for block_hash in ("aa" * 32, "bb" * 32)
]
VALID["evidence_double_sign"][1].update(first=_double_votes[0], second=_double_votes[1])
SETUP["validator_unjail"] = [_signed("home_malee", "evidence_double_sign", VALID["evidence_double_sign"][1])]


def nonce_after_setup(who: str, kind: str) -> int:
    """The sender's nonce once its kind's set-up ran."""
    return sum(tx.sender == addr(who) for tx in SETUP.get(kind, []))


UNICODE_EDGES = [
    "\x00",
    "\ud800",
    "\udfff",
    "\u200f",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\x85",
    "\x1b",
    "\u3000",
    "😀",
]
WHITESPACE = ["\n", "\r\n", " ", "\t", "\u00a0", "\u2028"]
BOUNDARY_INTS = [0, -1, 1, 2**31, 2**53 - 1, 2**53, -(2**53), 2**63, -(2**63), 2**64, 10**30]
NOT_INTS = [True, False, 1.0, 0.5, float("inf"), "1", None, [1], {"n": 1}]


def _text_variants(value: str) -> st.SearchStrategy:
    middle = len(value) // 2
    return st.one_of(
        st.sampled_from(WHITESPACE).map(lambda w: value + w),
        st.sampled_from(WHITESPACE).map(lambda w: w + value),
        st.sampled_from(WHITESPACE + UNICODE_EDGES).map(lambda c: value[:middle] + c + value[middle:]),
        st.sampled_from(UNICODE_EDGES).map(lambda c: value + c),
        st.just(value.upper()),
        st.just(value.translate(FULL_WIDTH)),
        st.just(value[:-1]),
        st.just(value * 40),
        st.just(""),
        st.text(max_size=8),
    )


def _int_variants(value: int) -> st.SearchStrategy:
    return st.one_of(
        st.sampled_from(BOUNDARY_INTS),
        st.sampled_from(NOT_INTS),
        st.sampled_from([value + 1, value - 1, -value, str(value), f"{value}\n", float(value)]),
    )


def _nested(depth: int) -> object:
    value: object = "deep"
    for _ in range(depth):
        value = [value]
    return value


def hostile_value(value) -> st.SearchStrategy:
    """A value built to pass a sloppy check where ``value`` goes."""
    others = st.sampled_from([None, [], {}, [value], {"value": value}, _nested(12), _nested(40)])
    if type(value) is bool:
        return st.one_of(st.sampled_from([0, 1, "true", "false", None, "True"]), others)
    if type(value) is int:
        return st.one_of(_int_variants(value), others)
    if type(value) is str:
        return st.one_of(_text_variants(value), others)
    return st.one_of(st.sampled_from(NOT_INTS + ["x", "\x00"]), others)


def _paths(value, prefix=()) -> list[tuple]:
    """Every place in a payload a value sits: keys of objects, indexes of lists."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found += _paths(item, (*prefix, index))
    return found


def _get(value, path):
    for step in path:
        value = value[step]
    return value


def _set(value, path, new):
    _get(value, path[:-1])[path[-1]] = new


@st.composite
def hostile_transactions(draw, kinds=tuple(VALID)) -> tuple[str, str, dict]:
    """(sender's demo name, kind, payload) with one hostile change to a valid payload."""
    kind = draw(st.sampled_from(kinds))
    who, valid = VALID[kind]
    payload = copy.deepcopy(valid)
    change = draw(st.sampled_from(["value", "value", "value", "extra key", "missing key", "hostile key"]))
    paths = _paths(payload)
    if change == "value" and paths:
        path = draw(st.sampled_from(paths))
        _set(payload, path, draw(hostile_value(_get(payload, path))))
    elif change == "extra key":
        payload[draw(st.sampled_from(["extra", "amount ", "to\n", "AMOUNT"]))] = draw(hostile_value("x"))
    elif change == "missing key" and payload:
        del payload[draw(st.sampled_from(sorted(payload)))]
    elif change == "hostile key" and payload:
        key = draw(st.sampled_from(sorted(payload)))
        variant = draw(_text_variants(key))
        payload[variant] = payload.pop(key)
    return who, kind, payload


#: Raw JSON documents a client could send in place of a transaction.
RAW_DOCUMENTS = st.one_of(
    st.just(b'{"chain_id":"a","chain_id":"b"}'),
    st.just(b'{"payload":{"to":"x","to":"y"}}'),
    st.just(b"[" * 2000 + b"]" * 2000),
    st.just(b'{"a":' * 1500 + b"1" + b"}" * 1500),
    st.just(b'{"memo":"\\u0000"}'),
    st.just(b'{"memo":"\\ud800"}'),
    st.just(b'{"n":NaN}'),
    st.just(b'{"n":1e999}'),
    st.just(b'{"n":' + b"9" * 5000 + b"}"),
    st.just(b"\xff\xfe"),
    st.binary(max_size=64),
    st.text(max_size=64).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


# --- the property ------------------------------------------------------------------

STABLE_CODE = re.compile(r"[a-z][a-z_]{2,39}")


def totals(chain: MemoryChain) -> tuple[int, int]:
    accounts = chain.store.tables["account"].values()
    return sum(a.total_tokens for a in accounts), sum(a.energy_wh + a.escrow_wh for a in accounts)


def wire_of(who: str, kind: str, payload: dict) -> dict:
    """The signed wire form; a payload no client could sign (a float, a huge integer) is sent
    with a made-up signature, as an attacker would."""
    nonce = nonce_after_setup(who, kind)
    try:
        tx = sign_transaction(
            demo_key(who), chain_id=GENESIS.chain_id, nonce=nonce, kind=kind, payload=payload
        )
    except LedgerError:
        signer = sign_transaction(
            demo_key(who), chain_id=GENESIS.chain_id, nonce=nonce, kind=kind, payload={}
        )
        return {**signer.to_wire(), "payload": payload, "signature": "00" * 64}
    return tx.to_wire()


def chain_after_setup(kind: str) -> tuple[MemoryChain, int, int]:
    """A fresh chain from genesis with ``kind``'s set-up run, and its token and Wh totals."""
    chain = MemoryChain(GENESIS, GENESIS.params)
    if kind in SEED_RECORDS:
        chain.store = MemoryStore.holding([*GENESIS.records(), *SEED_RECORDS[kind]])
    supply, energy = totals(chain)
    if kind in SETUP:
        result = chain.block(SETUP[kind], timestamp_ms=T0 - 1_000)
        assert all(receipt.ok for receipt in result.receipts), result.receipts
        supply += result.energy.get("minted_units", 0) - result.energy.get("burned_units", 0)
    return chain, supply, energy


def admit(raw: bytes) -> Transaction:
    """What admission checks before it touches the database, in its order."""
    tx = parse_transaction(json_decode(raw))
    if tx.chain_id != GENESIS.chain_id:
        raise LedgerError("wrong_chain_id", "")
    kind = get_kind(tx.kind)
    kind.check_payload(tx.payload, GENESIS.params)
    if not tx.signature_valid():
        raise LedgerError("bad_signature", "")
    kind.token_debit(tx.payload, GENESIS.params), kind.energy_debit(tx.payload, GENESIS.params)
    return tx


def check_hostile_case(case: tuple[str, str, dict]) -> None:
    """Refused with a stable code as admission would, or run in a block that writes and keeps
    every ledger invariant: the property of the adversarial suite, for one hostile transaction."""
    who, kind, payload = case
    raw = json.dumps(wire_of(who, kind, payload)).encode()  # json.dumps spells inf, NaN, \ud800...
    try:
        tx = admit(raw)
    except LedgerError as exc:
        assert STABLE_CODE.fullmatch(exc.code), exc.code
        return
    chain, supply, energy = chain_after_setup(kind)
    state = State(chain.store, chain.store.accumulator)
    result = execute_block(
        state,
        [tx],
        chain_id=GENESIS.chain_id,
        height=chain.height + 1,
        timestamp_ms=T0,
        params=GENESIS.params,
        strict=False,
        verify_signatures=True,
    )
    dirty = state.dirty_records()
    assert execution_unwritable(result, dirty, checked_payloads=frozenset()) == []
    assert records_unwritable(dirty) == []
    chain.store.write(state)  # the state root hashes every changed record
    assert chain.store.root
    supply += result.energy.get("minted_units", 0) - result.energy.get("burned_units", 0)
    check_invariants(chain, supply, energy + result.energy.get("minted_wh", 0))
