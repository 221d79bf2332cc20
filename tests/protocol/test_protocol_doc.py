"""docs/PROTOCOL.md held to the code wherever a client would copy a fact from it.

A client written from the document alone must compute the same bytes and the
same state root as a site: so the kinds it lists, every record's fields in
order, the header and certificate fields, the genesis values it quotes, the
state before block 1 and the demo keys it derives are recomputed here.
(The worked example: tests/chain/test_ledger_protocol_doc.py, and gtxclient
against it: test_client.py.)
"""

import re
import tomllib
from dataclasses import fields

import pytest

import protocol
from chain.ledger import errors
from chain.ledger.block import HEADER_FIELDS
from chain.ledger.encoding import canonical_json, sha256_hex
from chain.ledger.errors import LedgerError
from chain.ledger.genesis import load_genesis
from chain.ledger.state import Account, Validator
from chain.ledger.tx import parse_transaction
from chain.services import admission
from chain.services.sync import PRECOMMIT_FIELDS
from gtxclient import Key
from localnet import BASE_DIR
from localnet.genesis_files import DEMO_GENESIS

DOC = (BASE_DIR / "docs" / "PROTOCOL.md").read_text()
RAW_GENESIS = tomllib.loads(DEMO_GENESIS.read_text())
GENESIS = load_genesis(DEMO_GENESIS)
TABLES = {table.table: table for table in protocol.STATE_MACHINE.tables}


def section(title: str) -> str:
    """The text of the section whose heading starts with ``title``, up to the next heading of its level."""
    match = re.search(rf"^(#+) {re.escape(title)}.*?$", DOC, re.M)
    assert match, f"PROTOCOL.md has no section {title!r}"
    level = len(match.group(1))
    rest = DOC[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def table_rows(text: str, header: str) -> list[list[str]]:
    """The rows of every Markdown table in ``text`` whose header line is ``header``, as cell lists."""
    rows, inside = [], False
    for line in text.splitlines():
        if line.strip() == header:
            inside = True
            continue
        if inside and line.startswith("| ---"):
            continue
        if inside and line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
            continue
        inside = False
    return rows


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# --- kinds ------------------------------------------------------------------------------------


def test_the_kinds_table_lists_exactly_the_registered_kinds():
    documented = [
        name for row in table_rows(section("5.5"), "| kind | payload | effect |") for name in ticked(row[0])
    ]

    assert len(documented) == len(set(documented)), "a kind is listed twice"
    assert set(documented) == {kind.name for kind in protocol.STATE_MACHINE.kinds}


def test_no_registered_kind_is_called_reserved():
    for kind in protocol.STATE_MACHINE.kinds:
        assert not re.search(rf"`{kind.name}`[^.\n]*reserved", DOC), kind.name


# --- records: the state root's input --------------------------------------------------------

FIELD_TABLE = "| table | key | fields, in order |"


def documented_records() -> list[tuple[str, list[str]]]:
    """(table, fields) of every record table anywhere in the document."""
    rows = table_rows(DOC, FIELD_TABLE)
    # A field may carry a note in parentheses (`direction ("mint" or "burn")`): not part of its name.
    names = [re.sub(r"\s*\([^)]*\)", "", ticked(row[2])[0]) for row in rows]
    return [
        (ticked(row[0])[0], [f.strip() for f in text.split(",")])
        for row, text in zip(rows, names, strict=True)
    ]


def test_section_8_4_lists_every_table_of_the_state_root():
    listed = [
        table for table, _ in ((ticked(row[0])[0], row) for row in table_rows(section("8.4"), FIELD_TABLE))
    ]

    assert sorted(listed) == sorted(TABLES)


@pytest.mark.parametrize(
    "table, documented", documented_records(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_documented_record_has_the_fields_of_its_record_class_in_order(table, documented):
    assert table in TABLES, f"PROTOCOL.md documents a table {table} that no app installs"
    assert documented == [f.name for f in fields(TABLES[table])]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_a_records_key_is_its_first_field(table):
    """§8.4 says so: a client computing leaves needs no per-table key rule."""
    record_class = TABLES[table]
    values = [f"value-{i}" for i in range(len(fields(record_class)))]

    assert record_class(*values).key == "value-0"


def test_the_genesis_validator_defaults_are_the_records():
    defaults = {
        f.name: f.default
        for f in fields(Validator)
        if f.name not in {"public_key", "name", "url", "region", "authority", "active"}
    }

    assert defaults == {
        "reputation_ppm": 1_000_000,
        "missed_in_row": 0,
        "missed_total": 0,
        "jailed": False,
        "blocks_proposed": 0,
    }
    assert (
        "`reputation_ppm` 1000000,\n`missed_in_row` 0, `missed_total` 0, `jailed` false, `blocks_proposed` 0"
        in DOC
    )


# --- header, certificate, encoding ----------------------------------------------------------


def test_the_header_table_lists_the_header_fields():
    rows = table_rows(section("8.2"), "| field | type | meaning |")

    assert sorted(ticked(row[0])[0] for row in rows) == sorted(HEADER_FIELDS)


def test_the_certificate_entry_has_the_fields_a_site_accepts():
    entry = re.search(r"commit certificate\*\* is a JSON list of\n`\{([^}]*)\}`", DOC)

    assert entry, "§8.6 shows a certificate entry"
    assert set(re.findall(r'"(\w+)"', entry.group(1))) == PRECOMMIT_FIELDS


def test_the_string_escapes_described_are_the_encoders():
    assert canonical_json("\x7f") == b'"\\u007f"'
    assert "DEL → `\\u007f`" in DOC
    assert canonical_json("/~ ") == b'"/~ "'
    assert canonical_json("é😀\x1f") == b'"\\u00e9\\ud83d\\ude00\\u001f"'
    assert "(`😀` →\n  `\\ud83d\\ude00`)" in DOC


def test_every_ledger_error_code_in_the_table_exists():
    codes = {value for name, value in vars(errors).items() if name.isupper() and isinstance(value, str)}
    documented = {
        code for row in table_rows(section("7. Admission"), "| code | meaning |") for code in ticked(row[0])
    }

    assert documented - codes - {admission.MEMPOOL_FULL, admission.SENDER_BUSY} == set()


# --- genesis ----------------------------------------------------------------------------------

PARAMS = GENESIS.params


@pytest.mark.parametrize(
    "quoted",
    [
        f"`max_block_txs` (demo genesis: {PARAMS['max_block_txs']})",
        f"(`block_interval_ms`: {PARAMS['block_interval_ms']} in the demo",
        f"`unbonding_blocks` blocks later (genesis: {PARAMS['unbonding_blocks']})",
        f"`pow_difficulty_bits` from genesis ({PARAMS['pow_difficulty_bits']})",
        f"`settlement_grace_minutes` (genesis: {PARAMS['settlement_grace_minutes']})",
        f"(demo: `{GENESIS.chain_id}`)",
        f"`max_order_kwh` × 1000 (demo: {PARAMS['max_order_kwh'] * 1000:,})",
        f"(demo: {PARAMS['min_price_per_kwh']:,} .. {PARAMS['max_price_per_kwh']:,}, i.e. "
        f"{PARAMS['min_price_per_kwh'] // GENESIS.token_unit}..{PARAMS['max_price_per_kwh'] // GENESIS.token_unit}"
        " tokens)",
        f"`slot_minutes` × 60,000 (demo: {PARAMS['slot_minutes'] * 60_000:,})",
        f"(demo: {PARAMS['gate_closure_minutes']} minutes before the slot starts)",
        f'`token_decimals = {PARAMS["token_decimals"]}`, `params["token_unit"] = {PARAMS["token_unit"]}`',
        f"A non-empty list of at most {admission.MAX_BATCH} transactions",
        f"× `token_unit` (demo {GENESIS.token_unit:,}) units",
        f"(demo {RAW_GENESIS['governance']['min_proposal_stake']:,} = "
        f"{RAW_GENESIS['governance']['min_proposal_stake'] // GENESIS.token_unit:,} tokens)",
    ],
)
def test_a_genesis_value_the_document_quotes_is_the_demo_genesiss(quoted):
    assert quoted in DOC


def test_the_block_interval_default_is_the_documented_one():
    from chain.ledger.genesis import DEFAULT_BLOCK_INTERVAL_MS

    assert "1000 when a genesis leaves it out" in DOC
    assert DEFAULT_BLOCK_INTERVAL_MS == 1000


def test_the_zones_listed_are_the_genesis_regions():
    row = next(r for r in table_rows(section("12.1"), "| field | type | rule |") if r[0] == "`zone`")

    assert ticked(row[2]) == [region["id"] for region in RAW_GENESIS["regions"]]


def test_the_genesis_hash_is_as_described():
    assert GENESIS.hash == sha256_hex(canonical_json(RAW_GENESIS))


def test_the_first_state_follows_section_13_from_the_file_alone():
    """§13's rules, applied to the parsed TOML by hand, give the records the site starts from."""
    unit = 10 ** RAW_GENESIS["token_decimals"]
    accounts = {
        v["public_key"]: Account(address=v["public_key"], staked=v["stake"] * unit)
        for v in RAW_GENESIS["validators"]
    }
    for entry in RAW_GENESIS["accounts"]:
        accounts[entry["address"]] = Account(
            address=entry["address"], balance=entry["tokens"] * unit, energy_wh=entry["energy_kwh"] * 1000
        )
    validators = [
        Validator(**{k: v[k] for k in ("public_key", "name", "url", "region", "authority", "active")})
        for v in RAW_GENESIS["validators"]
    ]

    assert GENESIS.records() == [*accounts.values(), *validators]


def test_the_parameters_follow_section_13():
    raw = RAW_GENESIS
    unit = 10 ** raw["token_decimals"]
    by_name = {v["name"]: v["public_key"] for v in raw["validators"]}
    expected = {
        **raw["consensus"],
        **raw["market"],
        **raw["grid"],
        **raw["governance"],
        "token_decimals": raw["token_decimals"],
        "token_unit": unit,
        "grid_operator": by_name[raw["grid_operator"]],
        "issuers": [by_name[name] for name in raw["treasury"]["issuers"]],
        "max_payment_units": raw["treasury"]["max_payment_tokens"] * unit,
        "regions": raw["regions"],
        "transmission": raw["transmission"],
    }

    assert GENESIS.params == expected


def test_every_demo_key_is_derived_as_section_13_says():
    for validator in RAW_GENESIS["validators"]:
        assert Key.demo(validator["name"]).address == validator["public_key"], validator["name"]
    for account in RAW_GENESIS["accounts"]:
        assert Key.demo(account["username"]).address == account["address"], account["username"]


def nested(levels: int):
    value = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels, accepted", [(7, True), (8, False)])
def test_a_payload_value_sits_at_most_7_levels_below_the_payload(levels, accepted):
    """§5.4: the unsigned transaction is level 0, its payload level 1, so 7 levels remain below it."""
    wire = {
        "chain_id": GENESIS.chain_id,
        "sender": "ab" * 32,
        "nonce": 0,
        "kind": "transfer",
        "payload": {"x": nested(levels - 1)},  # "x" is one level below the payload
        "signature": "cd" * 64,
    }

    assert "sits at most 7 levels below the payload object" in DOC
    if accepted:
        assert parse_transaction(wire).signing_bytes
    else:
        with pytest.raises(LedgerError) as refused:
            parse_transaction(wire).signing_bytes  # noqa: B018 - encoding is the check
        assert refused.value.code == errors.MALFORMED


SETTINGS_SOURCE = (BASE_DIR / "gridtokenx_site" / "settings.py").read_text()


def setting_default(name: str) -> int:
    """The default a setting takes when its environment variable is unset, read from settings.py."""
    match = re.search(rf'env\.int\("{name}", default=([0-9_* ]+)\)', SETTINGS_SOURCE)
    assert match, name
    value = 1
    for factor in match.group(1).replace("_", "").split("*"):
        value *= int(factor)
    return value


@pytest.mark.parametrize(
    "name, quoted",
    [
        ("GTX_HOLD_SECONDS", "`GTX_HOLD_SECONDS` (default {})"),
        ("GTX_HOLD_MAX_PER_SENDER", "`GTX_HOLD_MAX_PER_SENDER`\n  ({})"),
        ("GTX_HOLD_MAX", "`GTX_HOLD_MAX` ({:,})"),
        ("GTX_DROPPED_RECEIPT_DAYS", "`GTX_DROPPED_RECEIPT_DAYS`\n  (default {})"),
        ("GTX_MEMPOOL_MAX", "`GTX_MEMPOOL_MAX` (default {:,}"),
        ("GTX_MEMPOOL_MAX_PER_SENDER", "`GTX_MEMPOOL_MAX_PER_SENDER` (default {:,})"),
    ],
)
def test_an_intake_default_the_document_quotes_is_the_settings(name, quoted):
    assert quoted.format(setting_default(name)) in DOC


def test_the_name_rules_described_are_the_field_rules():
    from chain.ledger import fields as rules

    assert rules.CHAIN_ID.pattern == "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
    assert "1 … 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit" in DOC
    assert rules.KIND_NAME.pattern == "[a-z][a-z0-9_]{0,31}"
    assert "1 … 32 of `a-z 0-9 _`, starting with a letter" in DOC
    assert rules.IDENTIFIER.pattern == "[A-Za-z0-9][A-Za-z0-9._-]{0,31}"
    assert "are 1 … 32 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit" in DOC
