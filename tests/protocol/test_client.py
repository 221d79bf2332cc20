"""gtxclient, written from docs/PROTOCOL.md alone, computes the site's bytes exactly.

The client imports nothing of the site; these tests put it beside the ledger core
(chain.ledger) on the worked example, on a transaction of every kind, and on
hypothesis-generated payloads, and check that what one refuses the other refuses.
"""

import ast
import runpy
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gtxclient
from chain.ledger import encoding
from chain.ledger.errors import LedgerError
from chain.ledger.genesis import demo_key
from chain.ledger.tx import parse_transaction, sign_transaction
from localnet import BASE_DIR

EXAMPLE = runpy.run_path(str(BASE_DIR / "docs" / "protocol_example.py"))["example"]()
CHAIN_ID = "gridtokenx-th-demo-1"
CLIENT_DIR = BASE_DIR / "gtxclient"


def test_the_client_imports_nothing_of_the_site():
    allowed = set(sys.stdlib_module_names) | {"nacl", "httpx", "gtxclient"}
    imported = set()
    for path in CLIENT_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])

    assert imported - allowed == set()


def test_the_client_reproduces_the_worked_example_byte_for_byte():
    key = gtxclient.Key.from_hex(EXAMPLE["sender_seed_hex"])
    to = gtxclient.Key.from_hex(EXAMPLE["recipient_seed_hex"]).address
    tx = gtxclient.sign_transaction(
        key,
        chain_id=CHAIN_ID,
        nonce=0,
        kind="transfer",
        payload={"to": to, "amount": 2_500_000, "memo": "ค่าไฟ"},
    )

    assert key.address == EXAMPLE["sender_public_key"]
    assert to == EXAMPLE["recipient_address"]
    assert gtxclient.canonical_json(tx.unsigned()).decode() == EXAMPLE["unsigned_json"]
    assert tx.signing_bytes.hex() == EXAMPLE["signing_bytes_hex"]
    assert tx.hash == EXAMPLE["tx_hash"]
    assert tx.signature == EXAMPLE["signature"]
    assert gtxclient.canonical_json(tx.wire()).decode() == EXAMPLE["wire_json"]


@pytest.mark.parametrize(
    "text", ["\x7f", "a\x7fb", "\x00\x1f\b\f\n\r\t", '"\\/', "é€😀", "\ud800", "~ ", "\u2028\u202e"]
)
def test_every_escape_rule_gives_the_ledgers_bytes(text):
    value = {text: [text, {"k": text}]}

    assert gtxclient.canonical_json(value) == encoding.canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        float("nan"),
        2**53,
        -(2**53),
        {"a": 0.5},
        {1: "x"},
        (1, 2),
        b"bytes",
        [[[[[[[[[1]]]]]]]]],  # nine levels below the top
    ],
    ids=repr,
)
def test_what_the_ledger_refuses_the_client_refuses(value):
    with pytest.raises(LedgerError):
        encoding.canonical_json(value)
    with pytest.raises(gtxclient.EncodingError):
        gtxclient.canonical_json(value)


def test_eight_levels_deep_is_still_encoded_by_both():
    value = [[[[[[[[1]]]]]]]]

    assert gtxclient.canonical_json(value) == encoding.canonical_json(value) == b"[[[[[[[[1]]]]]]]]"


def test_the_demo_keys_are_the_ledgers():
    for name in ("EGAT", "home_malee", "meter/solar_somchai"):
        assert gtxclient.Key.demo(name).seed_hex == bytes(demo_key(name)).hex()


@pytest.mark.parametrize("seed_hex", ["AB" * 32, "ab" * 31, "ab" * 32 + "\n", " " + "ab" * 32, "zz" * 32])
def test_a_seed_not_exactly_64_lowercase_hex_is_refused(seed_hex):
    with pytest.raises(ValueError):
        gtxclient.Key.from_hex(seed_hex)


ALICE, BOB = "home_malee", "solar_somchai"
#: One payload of every kind a person or a program signs, as the kinds' sections describe them.
PAYLOADS = [
    ("transfer", {"to": gtxclient.Key.demo(BOB).address, "amount": 2_500_000, "memo": "ค่าไฟ 😀"}),
    ("stake_bond", {"amount": 1}),
    ("stake_unbond", {"amount": 9_007_199_254_740_991}),
    (
        "order_place",
        {
            "side": "buy",
            "energy_wh": 1500,
            "price_per_kwh": 3_500_000,
            "zone": "bangkok",
            "delivery_slot": 1_800_000_900_000,
            "sources": ["solar", "wind"],
            "expires_ms": 1_800_000_000_000,
        },
    ),
    ("order_cancel", {"order_id": "ab" * 32}),
    ("governance_vote", {"proposal_id": "cd" * 32, "option": "yes"}),
    ("cashout_request", {"amount": 10_000_000}),
    ("token_mint", {"to": gtxclient.Key.demo(BOB).address, "amount": 5, "reference": "TU123456789012"}),
]


@pytest.mark.parametrize("kind, payload", PAYLOADS, ids=[kind for kind, _ in PAYLOADS])
@pytest.mark.parametrize("nonce", [0, 1, 2**53 - 1])
def test_a_transaction_of_each_kind_signs_to_the_ledgers_bytes(kind, payload, nonce):
    mine = gtxclient.sign_transaction(
        gtxclient.Key.demo(ALICE), chain_id=CHAIN_ID, nonce=nonce, kind=kind, payload=payload
    )
    theirs = sign_transaction(demo_key(ALICE), chain_id=CHAIN_ID, nonce=nonce, kind=kind, payload=payload)

    assert mine.signing_bytes == theirs.signing_bytes
    assert (mine.hash, mine.signature) == (theirs.hash, theirs.signature)
    assert parse_transaction(mine.wire()).hash == mine.hash  # the site parses and verifies it


# Any JSON value a payload may hold: every character (lone surrogates and DEL included),
# integers to the edges of ±(2^53 − 1), at most 8 levels deep.
JSON_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=12)
JSON_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.sampled_from([0, -1, 2**53 - 1, -(2**53 - 1)])
    | JSON_TEXT
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_TEXT, inner, max_size=4),
    max_leaves=24,
)
PAYLOAD = st.dictionaries(JSON_TEXT, JSON_VALUE, max_size=5)


def depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(
    payload=PAYLOAD,
    nonce=st.integers(min_value=0, max_value=2**53 - 1),
    kind=st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True),
)
def test_any_payload_encodes_and_signs_as_the_ledger_does(payload, nonce, kind):
    if depth({"payload": payload}) > 8:  # the top object is level 0; both refuse it (above)
        return
    mine = gtxclient.sign_transaction(
        gtxclient.Key.demo(ALICE), chain_id=CHAIN_ID, nonce=nonce, kind=kind, payload=payload
    )
    theirs = sign_transaction(demo_key(ALICE), chain_id=CHAIN_ID, nonce=nonce, kind=kind, payload=payload)

    assert mine.signing_bytes == theirs.signing_bytes
    assert mine.signature == theirs.signature
    assert gtxclient.canonical_json(mine.wire()) == encoding.canonical_json(theirs.to_wire())


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUE)
def test_any_value_is_refused_or_encoded_alike(value):
    try:
        expected = encoding.canonical_json(value)
    except LedgerError:
        with pytest.raises(gtxclient.EncodingError):
            gtxclient.canonical_json(value)
    else:
        assert gtxclient.canonical_json(value) == expected
