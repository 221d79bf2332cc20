"""The field rules (chain.ledger.fields): whole values, canonical spellings, storable text."""

import pytest

from chain.ledger import errors, fields
from chain.ledger.errors import LedgerError
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of, is_address, sign, verify
from chain.ledger.tx import parse_transaction, sign_transaction

ADDRESS = address_of(demo_key("home_malee"))


@pytest.mark.parametrize(
    "value",
    [
        ADDRESS + "\n",
        ADDRESS + "\r\n",
        " " + ADDRESS,
        ADDRESS + " ",
        ADDRESS[:32] + "\n" + ADDRESS[33:],
        ADDRESS.upper(),
        ADDRESS[:-1],
        ADDRESS + "0",
        ADDRESS[:-1] + "\uff10",  # a full-width zero
        ADDRESS.encode(),
        None,
        0,
    ],
)
def test_it_refuses_an_address_that_is_not_exactly_64_lowercase_hex(value):
    assert not is_address(value)
    assert not fields.is_hex64(value)


def test_it_accepts_an_address():
    assert is_address(ADDRESS)


def test_it_refuses_a_signature_with_a_trailing_newline():
    key = demo_key("home_malee")
    signature = sign(key, b"message")
    assert verify(ADDRESS, b"message", signature)
    assert not fields.is_signature_hex(signature + "\n")
    assert not verify(ADDRESS, b"message", signature + "\n")
    assert not verify(ADDRESS + "\n", b"message", signature)


@pytest.mark.parametrize(
    "value, ok",
    [
        ("hello", True),
        ("สวัสดี 😀", True),
        ("x" * 140, True),
        ("x" * 141, False),
        ("a\x00b", False),
        ("a\ud800b", False),
        ("line\nbreak", False),
        ("tab\there", False),
        ("bell\x07", False),
        ("c1\x85", False),
        ("rtl override \u202e", False),
        ("isolate \u2066", False),
        (5, False),
        (None, False),
    ],
)
def test_one_line_text_holds_no_control_characters_nul_or_surrogates(value, ok):
    assert fields.is_text(value, 140) is ok


def test_multiline_text_may_hold_tabs_and_line_breaks_only():
    assert fields.is_text("para\r\n\tgraph\n", 100, multiline=True)
    assert not fields.is_text("nul\x00", 100, multiline=True)
    assert not fields.is_text("escape\x1b[31m", 100, multiline=True)


@pytest.mark.parametrize("value", [True, False, 1.0, "1", 2**53, -(2**53), None])
def test_an_integer_is_a_json_integer_in_the_cores_range(value):
    assert not fields.is_int(value)


@pytest.mark.parametrize("value", ["12", "0", "9" * 18])
def test_typed_digits_are_ascii(value):
    assert fields.is_digits(value)


@pytest.mark.parametrize("value", ["²", "١٢", "１２", "12\n", " 12", "-1", "", "9" * 19, None])
def test_typed_digits_refuse_what_int_would_misread_or_choke_on(value):
    assert not fields.is_digits(value)


@pytest.mark.parametrize("value", ["bangkok", "north-east", "a.b_c", "x" * 32])
def test_an_identifier_is_a_plain_word(value):
    assert fields.is_identifier(value)


@pytest.mark.parametrize("value", ["", "bangkok\n", " bangkok", "x" * 33, ["bangkok"], "กรุงเทพ", "a:b"])
def test_an_identifier_refuses_anything_else(value):
    assert not fields.is_identifier(value)


def wire(**changes) -> dict:
    tx = sign_transaction(
        demo_key("wind_korat"),
        chain_id="gridtokenx-th-demo-1",
        nonce=0,
        kind="transfer",
        payload={"to": ADDRESS, "amount": 1},
    )
    return {**tx.to_wire(), **changes}


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"sender": wire()["sender"] + "\n"}, errors.BAD_ADDRESS),
        ({"signature": wire()["signature"] + "\n"}, errors.BAD_SIGNATURE),
        ({"signature": wire()["signature"].upper()}, errors.BAD_SIGNATURE),
        ({"chain_id": "gridtokenx-th-demo-1\n"}, errors.BAD_FIELD),
        ({"chain_id": "gridtokenx\x00"}, errors.BAD_FIELD),
        ({"kind": "transfer\n"}, errors.BAD_FIELD),
        ({"kind": "Transfer"}, errors.BAD_FIELD),
        ({"nonce": True}, errors.BAD_FIELD),
        ({"payload": {"to": ADDRESS, "amount": 1, "memo": "a\x00"}}, errors.BAD_FIELD),
        ({"payload": {"to": ADDRESS, "amount": 1, "memo": "\udc00"}}, errors.BAD_FIELD),
        ({"payload": {"to": ADDRESS, "amount": 1, "x\x00": 1}}, errors.BAD_FIELD),
        ({"payload": {"to": ADDRESS, "amount": 1, "deep": [[{"k": ["\x00"]}]]}}, errors.BAD_FIELD),
        ({"payload": {"deep": [[[[[[[[[[1]]]]]]]]]]}}, errors.MALFORMED),
    ],
)
def test_parse_transaction_refuses_fields_off_their_rules(changes, code):
    with pytest.raises(LedgerError) as info:
        parse_transaction(wire(**changes))
    assert info.value.code == code


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw.update(chain_id="gridtokenx-th-demo-1\n"),
        lambda raw: raw["regions"][0].update(id="bangkok\n"),
    ],
)
def test_a_genesis_whose_names_break_the_field_rules_is_refused(change):
    import copy
    import tomllib

    from chain.ledger.genesis import GenesisError, parse_genesis
    from tests.conftest import GENESIS_PATH

    raw = tomllib.loads(GENESIS_PATH.read_text())
    parse_genesis(copy.deepcopy(raw))
    change(raw)
    with pytest.raises(GenesisError):
        parse_genesis(raw)
