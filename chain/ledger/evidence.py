"""Double signing, proven on chain: two signed messages, one validator, one (height, round, type).

Anyone holding such a pair may submit it (sites do, when their consensus
step sees one). The block that includes it slashes ``slash_ppm`` of the
validator's stake (burnt: the supply shrinks by exactly that much), jails it
and zeroes its reputation. Each (validator, height, round, type) is punished
once.
"""

from dataclasses import dataclass, replace
from typing import ClassVar

from . import errors
from .errors import LedgerError
from .fields import is_hex64, is_identifier, is_int
from .kinds import BlockContext, TxKind
from .state import Account, State, Validator
from .tx import Transaction, require_fields

PPM = 1_000_000


@dataclass(frozen=True, slots=True)
class DoubleSign:
    table: ClassVar[str] = "double_sign"
    offence: str
    validator: str
    height: int
    round: int
    type: str
    slashed: int
    reported_by: str
    included_height: int

    @property
    def key(self) -> str:
        return self.offence


def _pair(payload: dict):
    from chain.consensus.messages import parse_message  # the message format lives with consensus

    return payload["first"], payload["second"], parse_message


def _check(payload: dict, params: dict) -> None:
    require_fields(payload, {"first", "second"}, {"first", "second"})
    first, second = payload["first"], payload["second"]
    if not isinstance(first, dict) or not isinstance(second, dict):
        raise LedgerError(errors.BAD_FIELD, "first and second are signed consensus messages.")
    # Their signatures are checked when the block runs; their shape now, so that the keys
    # it reads (prefetch: the sender) and the offence it records are well-formed.
    for message in (first, second):
        sender, height, round_, type_ = (message.get(k) for k in ("sender", "height", "round", "type"))
        if not (is_hex64(sender) and is_int(height, 0) and is_int(round_, 0) and is_identifier(type_)):
            raise LedgerError(
                errors.BAD_FIELD, "Each message names its sender (an address), height, round and type."
            )
    same = ("sender", "height", "round", "type")
    if any(first.get(k) != second.get(k) for k in same):
        raise LedgerError(errors.BAD_FIELD, "Both messages must share sender, height, round and type.")
    if first.get("block_hash") == second.get("block_hash"):
        raise LedgerError(errors.BAD_FIELD, "The two messages name the same block: no double signing.")


def _offence(payload: dict) -> str:
    m = payload["first"]
    return f"{m['sender']}:{m['height']}:{m['round']}:{m['type']}"


def _apply(state: State, tx: Transaction, ctx: BlockContext) -> None:
    first, second, parse_message = _pair(tx.payload)
    try:
        message, _ = parse_message(first, ctx.chain_id)
        parse_message(second, ctx.chain_id)
    except LedgerError as exc:
        raise LedgerError(
            errors.BAD_SIGNATURE, "Evidence does not verify: %(reason)s", {"reason": exc.message}
        ) from exc
    offence = _offence(tx.payload)
    if state.get(DoubleSign.table, offence) is not None:
        raise LedgerError(errors.DUPLICATE, "This double signing was already punished.")
    validator = state.get(Validator.table, message.sender)
    if validator is None:
        raise LedgerError(errors.BAD_FIELD, "The messages were not signed by a validator.")
    account = state.account(message.sender)
    slashed = account.staked * ctx.params.get("slash_ppm", 100_000) // PPM
    state.put(replace(account, staked=account.staked - slashed))
    state.put(replace(validator, jailed=True, reputation_ppm=0))
    state.put(
        DoubleSign(
            offence=offence,
            validator=message.sender,
            height=message.height,
            round=message.round,
            type=message.type,
            slashed=slashed,
            reported_by=tx.sender,
            included_height=ctx.height,
        )
    )
    ctx.energy["burned_units"] = ctx.energy.get("burned_units", 0) + slashed
    ctx.emit("double_sign", validator=message.sender, slashed=slashed, parties=[message.sender])


EVIDENCE_DOUBLE_SIGN = TxKind(
    name="evidence_double_sign",
    check_payload=_check,
    prefetch=lambda tx: {Account.table: [tx.sender, tx.payload["first"].get("sender", "")]},
    apply=_apply,
)
