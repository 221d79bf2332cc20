"""Transaction kinds: the installed kinds, and the chain's own kinds (transfer, stake, mining).

Each app defines the kinds it owns (trading: orders; grid: readings;
governance: proposals and votes) in its ``ledger`` package; the protocol
module lists and installs them all (chain.ledger.assembly). A kind is three
plain functions: a stateless payload check, the keys to prefetch, and the
state transition, which raises LedgerError to fail the transaction.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from . import errors
from .errors import LedgerError
from .fields import require_bool, require_text
from .keys import is_address
from .state import Account, Mining, State, Validator
from .tx import Transaction, require_amount, require_fields
from .validators import is_active_validator, not_mining


@dataclass
class BlockContext:
    """What a transaction may know about its block besides the state."""

    chain_id: str
    height: int
    timestamp_ms: int
    params: dict
    events: list
    energy: dict
    #: Who proposed the block and in which consensus round (rounds before it missed).
    proposer: str = ""
    round: int = 0
    #: The previous block's hash: it seeds the proposer choice of this height.
    previous_hash: str = ""
    #: Per-block working memory of kinds (e.g. an order book index), rebuilt from
    #: the state in every block and never part of it.
    scratch: dict = field(default_factory=dict)

    def emit(self, event_type: str, **data) -> None:
        """Queue an event for browsers and stream clients; sent after the block commits."""
        self.events.append({"type": event_type, **data})


@dataclass(frozen=True)
class TxKind:
    name: str
    check_payload: Callable[[dict, dict], None]
    prefetch: Callable[[Transaction], dict[str, Iterable[str]]]
    apply: Callable[[State, Transaction, BlockContext], None]
    #: Most tokens and Wh the transaction can take from the sender (payload, params):
    #: admission refuses what the balance cannot cover, counting what already waits.
    token_debit: Callable[[dict, dict], int] = lambda payload, params: 0
    energy_debit: Callable[[dict, dict], int] = lambda payload, params: 0


#: The installed kinds by name: filled by chain.ledger.assembly.install, nowhere else.
KINDS: dict[str, TxKind] = {}


def get_kind(name: str) -> TxKind:
    kind = KINDS.get(name)
    if kind is None:
        raise LedgerError(
            errors.UNKNOWN_KIND,
            "Unknown transaction kind '%(name)s'. Known kinds: %(kinds)s.",
            {"name": name, "kinds": ", ".join(sorted(KINDS))},
        )
    return kind


def sender_only(tx: Transaction) -> dict[str, Iterable[str]]:
    return {Account.table: [tx.sender]}


def release_matured_unbonding(account: Account, height: int) -> Account:
    """Unbonded stake returns to the balance once its release height is reached."""
    if account.unbonding and height >= account.unbonding_release_height:
        return replace(
            account,
            balance=account.balance + account.unbonding,
            unbonding=0,
            unbonding_release_height=0,
        )
    return account


# --- token transfer --------------------------------------------------------

MEMO_MAX = 140


def _check_transfer(payload: dict, params: dict) -> None:
    require_fields(payload, {"to", "amount", "memo"}, {"to", "amount"})
    if not is_address(payload["to"]):
        raise LedgerError(errors.BAD_ADDRESS, "to must be an address: 64 lowercase hex characters.")
    require_amount(payload, "amount")
    require_text(payload.get("memo", ""), "memo", MEMO_MAX)


def _apply_transfer(state: State, tx: Transaction, ctx: BlockContext) -> None:
    to, amount = tx.payload["to"], tx.payload["amount"]
    if to == tx.sender:
        raise LedgerError(errors.SELF_TRANSFER, "An account cannot send tokens to itself.")
    sender = release_matured_unbonding(state.account(tx.sender), ctx.height)
    if sender.balance < amount:
        raise LedgerError(
            errors.INSUFFICIENT_FUNDS,
            "Balance %(balance)s is less than the %(amount)s units to send.",
            {"balance": sender.balance, "amount": amount},
        )
    recipient = state.account(to)
    state.put(sender.with_balance(sender.balance - amount))
    state.put(recipient.with_balance(recipient.balance + amount))


TRANSFER = TxKind(
    name="transfer",
    check_payload=_check_transfer,
    prefetch=lambda tx: {Account.table: [tx.sender, tx.payload["to"]]},
    apply=_apply_transfer,
    token_debit=lambda payload, params: payload["amount"],
)


# --- stake bond / unbond ---------------------------------------------------


def _check_stake(payload: dict, params: dict) -> None:
    require_fields(payload, {"amount"}, {"amount"})
    require_amount(payload, "amount")


def _apply_bond(state: State, tx: Transaction, ctx: BlockContext) -> None:
    amount = tx.payload["amount"]
    account = release_matured_unbonding(state.account(tx.sender), ctx.height)
    if account.balance < amount:
        raise LedgerError(
            errors.INSUFFICIENT_FUNDS,
            "Balance %(balance)s is less than the %(amount)s units to bond.",
            {"balance": account.balance, "amount": amount},
        )
    state.put(replace(account, balance=account.balance - amount, staked=account.staked + amount))


def _apply_unbond(state: State, tx: Transaction, ctx: BlockContext) -> None:
    amount = tx.payload["amount"]
    account = release_matured_unbonding(state.account(tx.sender), ctx.height)
    if account.staked < amount:
        raise LedgerError(
            errors.INSUFFICIENT_STAKE,
            "Staked %(staked)s is less than the %(amount)s units to unbond.",
            {"staked": account.staked, "amount": amount},
        )
    state.put(
        replace(
            account,
            staked=account.staked - amount,
            unbonding=account.unbonding + amount,
            unbonding_release_height=ctx.height + ctx.params["unbonding_blocks"],
        )
    )


STAKE_BOND = TxKind(
    name="stake_bond",
    check_payload=_check_stake,
    prefetch=sender_only,
    apply=_apply_bond,
    token_debit=lambda payload, params: payload["amount"],
)
STAKE_UNBOND = TxKind(
    name="stake_unbond", check_payload=_check_stake, prefetch=sender_only, apply=_apply_unbond
)


# --- mining on / off ---------------------------------------------------------

#: The code of a change that would leave no active validator to propose blocks.
LAST_MINER = "last_miner"


def _check_mining(payload: dict, params: dict) -> None:
    require_fields(payload, {"mining"}, {"mining"})
    require_bool(payload["mining"], "mining")


def _apply_mining(state: State, tx: Transaction, ctx: BlockContext) -> None:
    """A validator turns its own mining on or off (sender: the validator's key)."""
    validator = state.get(Validator.table, tx.sender)
    if validator is None:
        raise LedgerError(errors.NOT_PERMITTED, "Only a registered validator mines; this key is not one.")
    mining = tx.payload["mining"]
    off = not_mining(state)
    if mining == (tx.sender not in off):
        if mining:
            raise LedgerError(errors.BAD_FIELD, "%(name)s already mines.", {"name": validator.name})
        raise LedgerError(errors.BAD_FIELD, "%(name)s has already stopped mining.", {"name": validator.name})
    if not mining:
        off = off | {tx.sender}
        miners = [
            v
            for v in state.scan_all(Validator.table)
            if v.public_key not in off and is_active_validator(v, state.account(v.public_key))
        ]
        if not miners:
            raise LedgerError(
                LAST_MINER,
                "%(name)s is the last active validator that mines: nobody else would propose blocks.",
                {"name": validator.name},
            )
    state.put(Mining(public_key=tx.sender, mining=mining))
    ctx.emit("validator_mining", public_key=tx.sender, name=validator.name, mining=mining)


VALIDATOR_SET_MINING = TxKind(
    name="validator_set_mining",
    check_payload=_check_mining,
    prefetch=lambda tx: {Account.table: [tx.sender], Validator.table: [tx.sender], Mining.table: [tx.sender]},
    apply=_apply_mining,
)
