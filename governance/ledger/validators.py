"""Validator administration: signed transactions of an authority, never database edits.

Kinds (sender: an active, unjailed authority validator):

- ``validator_register``: ``public_key``, ``name``, ``url``, ``region``, ``authority``, ``active``;
- ``validator_set_active``: ``public_key``, ``active`` (deactivate or activate);
- ``validator_unjail``: ``public_key`` (clears the jail and the run of misses).

Stake is not an authority's to move: a validator changes its own bond with the
chain's ``stake_bond`` / ``stake_unbond`` (on a site, staff sign those with the
site's node key). Activation needs ``min_validator_stake`` whole tokens staked.
Every change keeps at least one active validator and one active authority, or
the chain could make no more blocks.
"""

from dataclasses import replace

from chain.ledger import errors
from chain.ledger.encoding import MAX_SAFE_INTEGER
from chain.ledger.errors import LedgerError
from chain.ledger.fields import require_bool
from chain.ledger.keys import is_address
from chain.ledger.kinds import BlockContext, TxKind
from chain.ledger.state import Account, State, Validator
from chain.ledger.tx import Transaction, require_fields
from chain.ledger.validators import is_authority

from . import rules as r

ADMIN_KINDS = ("validator_register", "validator_set_active", "validator_unjail")
NOT_JAILED = "not_jailed"
LAST_VALIDATOR = "last_validator"
STAKE_TOO_LOW = "stake_too_low"


def all_validators(state: State) -> list[Validator]:
    """Every validator record, by key (the set is small: a scan of the whole table)."""
    return state.scan(Validator.table, "reputation_ppm", -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)


def set_validator(state: State, ctx: BlockContext, updated: Validator) -> None:
    """Write ``updated`` if the set stays able to commit blocks and an activation is staked."""
    before = state.get(Validator.table, updated.public_key)
    if updated.active and not (before is not None and before.active):
        unit = ctx.params.get("token_unit", 1)
        needed = ctx.params.get("min_validator_stake", 0) * unit
        staked = state.account(updated.public_key).staked
        if staked < needed:
            raise LedgerError(
                STAKE_TOO_LOW,
                "An active validator needs at least %(needed)s tokens staked; %(name)s has %(staked)s.",
                {"needed": needed // unit, "name": updated.name, "staked": staked // unit},
            )
    others = [v for v in all_validators(state) if v.public_key != updated.public_key]
    after = [*others, updated]
    if not any(v.active for v in after):
        raise LedgerError(LAST_VALIDATOR, "The last active validator cannot leave: nobody would make blocks.")
    if not any(v.active and is_authority(v) for v in after):
        raise LedgerError(
            LAST_VALIDATOR, "At least one active authority must remain: blocks need its precommit."
        )
    state.put(updated)
    ctx.emit(
        "validator_changed",
        public_key=updated.public_key,
        name=updated.name,
        active=updated.active,
        authority=updated.authority,
        jailed=updated.jailed,
    )


def _require_authority(state: State, tx: Transaction) -> None:
    signer = state.get(Validator.table, tx.sender)
    if not (is_authority(signer) and signer.active):
        raise LedgerError(
            errors.NOT_PERMITTED, "Only an active, unjailed authority validator administers validators."
        )


def _check_key(payload: dict) -> None:
    if not is_address(payload["public_key"]):
        raise LedgerError(errors.BAD_ADDRESS, "public_key must be 64 lowercase hex characters.")


def _check_flag(payload: dict, name: str) -> None:
    require_bool(payload[name], name)


def check_register_payload(payload: dict, params: dict) -> None:
    fields = {"public_key", "name", "url", "region", "authority", "active"}
    require_fields(payload, fields, fields)
    _check_key(payload)
    r.check_text(payload["name"], "name", r.NAME_MAX)
    r.check_url(payload["url"])
    r.check_region(payload["region"], params)
    _check_flag(payload, "authority")
    _check_flag(payload, "active")


def check_set_active_payload(payload: dict, params: dict) -> None:
    require_fields(payload, {"public_key", "active"}, {"public_key", "active"})
    _check_key(payload)
    _check_flag(payload, "active")


def check_unjail_payload(payload: dict, params: dict) -> None:
    require_fields(payload, {"public_key"}, {"public_key"})
    _check_key(payload)


def _existing(state: State, key: str) -> Validator:
    validator = state.get(Validator.table, key)
    if validator is None:
        raise LedgerError(r.UNKNOWN_VALIDATOR, "No validator has that public key.")
    return validator


def _apply_register(state: State, tx: Transaction, ctx: BlockContext) -> None:
    _require_authority(state, tx)
    p = tx.payload
    if state.get(Validator.table, p["public_key"]) is not None:
        raise LedgerError(r.VALIDATOR_EXISTS, "A validator with that public key is already registered.")
    name = p["name"].strip()
    if any(v.name == name for v in all_validators(state)):
        raise LedgerError(r.VALIDATOR_EXISTS, "A validator is already named %(name)s.", {"name": name})
    set_validator(
        state, ctx, Validator(p["public_key"], name, p["url"], p["region"], p["authority"], p["active"])
    )


def _apply_set_active(state: State, tx: Transaction, ctx: BlockContext) -> None:
    _require_authority(state, tx)
    validator = _existing(state, tx.payload["public_key"])
    if validator.active == tx.payload["active"]:
        if validator.active:
            raise LedgerError(errors.BAD_FIELD, "%(name)s is already active.", {"name": validator.name})
        raise LedgerError(errors.BAD_FIELD, "%(name)s is already inactive.", {"name": validator.name})
    set_validator(state, ctx, replace(validator, active=tx.payload["active"]))


def _apply_unjail(state: State, tx: Transaction, ctx: BlockContext) -> None:
    _require_authority(state, tx)
    validator = _existing(state, tx.payload["public_key"])
    if not validator.jailed:
        raise LedgerError(NOT_JAILED, "%(name)s is not jailed.", {"name": validator.name})
    set_validator(state, ctx, replace(validator, jailed=False, missed_in_row=0))


def _prefetch(tx: Transaction) -> dict:
    key = tx.payload["public_key"]
    return {Account.table: [tx.sender, key], Validator.table: [tx.sender, key]}


VALIDATOR_REGISTER = TxKind(
    name="validator_register",
    check_payload=check_register_payload,
    prefetch=_prefetch,
    apply=_apply_register,
)
VALIDATOR_SET_ACTIVE = TxKind(
    name="validator_set_active",
    check_payload=check_set_active_payload,
    prefetch=_prefetch,
    apply=_apply_set_active,
)
VALIDATOR_UNJAIL = TxKind(
    name="validator_unjail", check_payload=check_unjail_payload, prefetch=_prefetch, apply=_apply_unjail
)
