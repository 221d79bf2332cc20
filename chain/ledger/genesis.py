"""The genesis file: parse, check, and turn into the first state.

Amounts in the TOML are whole tokens and whole kWh for people to read; on
chain they become units (10^-token_decimals token) and Wh.
"""

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nacl.signing import SigningKey

from .encoding import canonical_json, sha256_hex
from .fields import is_chain_id, is_identifier
from .keys import is_address
from .state import Account, Validator

WH_PER_KWH = 1000
DEFAULT_BLOCK_INTERVAL_MS = 1000


class GenesisError(ValueError):
    pass


@dataclass(frozen=True)
class Genesis:
    raw: dict
    chain_id: str
    token_unit: int
    params: dict
    validators: list[dict]
    accounts: list[dict]

    @property
    def hash(self) -> str:
        return sha256_hex(canonical_json(self.raw))

    def records(self) -> list:
        """Every record of the state before block 1."""
        unit = self.token_unit
        balances: dict[str, Account] = {}
        for v in self.validators:
            balances[v["public_key"]] = Account(address=v["public_key"], staked=v["stake"] * unit)
        for a in self.accounts:
            balances[a["address"]] = Account(
                address=a["address"],
                balance=a["tokens"] * unit,
                energy_wh=a["energy_kwh"] * WH_PER_KWH,
            )
        validators = [
            Validator(
                public_key=v["public_key"],
                name=v["name"],
                url=v["url"],
                region=v["region"],
                authority=v["authority"],
                active=v["active"],
            )
            for v in self.validators
        ]
        return [*balances.values(), *validators]


def demo_key(name: str) -> SigningKey:
    """The demo network's keys come from public seeds: never use them for real value."""
    return SigningKey(hashlib.sha256(b"gridtokenx-demo/" + name.encode()).digest())


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise GenesisError(message)


def load_genesis(path: str | Path) -> Genesis:
    try:
        raw = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GenesisError(f"Cannot read genesis {path}: {exc}") from exc
    return parse_genesis(raw)


def parse_genesis(raw: dict) -> Genesis:
    try:
        canonical_json(raw)
    except Exception as exc:
        raise GenesisError(f"Genesis must hold integers, text and tables only: {exc}") from exc
    for section in ("chain_id", "token_decimals", "consensus", "market", "validators", "regions"):
        _require(section in raw, f"Genesis lacks '{section}'.")
    decimals = raw["token_decimals"]
    _require(isinstance(decimals, int) and 0 <= decimals <= 9, "token_decimals must be 0..9.")
    # Transactions name these; a genesis whose names break the field rules could never be used.
    _require(is_chain_id(raw["chain_id"]), "chain_id must be 1..64 of A-Z a-z 0-9 . _ -.")
    regions = {r["id"]: r for r in raw["regions"]}
    _require(len(regions) == len(raw["regions"]), "Region ids must be unique.")
    for region_id in regions:
        _require(is_identifier(region_id), f"Region id {region_id!r} must be 1..32 of A-Z a-z 0-9 . _ -.")
    for path in raw.get("transmission", []):
        _require(
            path["from"] in regions and path["to"] in regions,
            f"Transmission path {path['from']}-{path['to']} names an unknown region.",
        )
        _require(path["capacity_mw"] > 0 and path["wheeling_fee_per_kwh"] >= 0, "Bad path figures.")
    names = set()
    for v in raw["validators"]:
        _require(is_address(v["public_key"]), f"Validator {v['name']} has a bad public key.")
        _require(v["region"] in regions, f"Validator {v['name']} is in an unknown region.")
        _require(isinstance(v["stake"], int) and v["stake"] >= 0, "Stakes are whole tokens.")
        names.add(v["name"])
    _require(any(v["active"] for v in raw["validators"]), "At least one validator must be active.")
    _require(raw.get("grid_operator") in names, "grid_operator must name a validator.")
    accounts = raw.get("accounts", [])
    for a in accounts:
        _require(is_address(a["address"]), f"Account {a['username']} has a bad address.")
        _require(a["region"] in regions, f"Account {a['username']} is in an unknown region.")
        _require(a["tokens"] >= 0 and a["energy_kwh"] >= 0, "Allocations cannot be negative.")
    operator = next(v for v in raw["validators"] if v["name"] == raw["grid_operator"])
    treasury = raw.get("treasury", {})
    issuers = treasury.get("issuers", [])
    for name in issuers:
        _require(name in names, f"treasury.issuers names {name!r}, which is not a validator.")
    max_payment = treasury.get("max_payment_tokens", 0)
    _require(isinstance(max_payment, int) and max_payment >= 0, "treasury.max_payment_tokens: whole tokens.")
    params = {
        "block_interval_ms": DEFAULT_BLOCK_INTERVAL_MS,
        **raw["consensus"],
        **raw["market"],
        # Frequency band, pause, report clock limits (grid.ledger.rules).
        **raw.get("grid", {}),
        # Voting period, delay, quorum, threshold, proposal stake (governance.ledger.proposals).
        **raw.get("governance", {}),
        "token_decimals": decimals,
        "token_unit": 10**decimals,
        "grid_operator": operator["public_key"],
        # Who mints and burns tokens against off-chain payments, and the most one payment moves
        # (treasury.ledger.kinds); governance may change both.
        "issuers": [v["public_key"] for v in raw["validators"] if v["name"] in issuers],
        "max_payment_units": max_payment * 10**decimals,
        "regions": raw["regions"],
        "transmission": raw.get("transmission", []),
    }
    return Genesis(
        raw=raw,
        chain_id=raw["chain_id"],
        token_unit=10**decimals,
        params=params,
        validators=raw["validators"],
        accounts=accounts,
    )
