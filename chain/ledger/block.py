"""Blocks: executing transactions against the state, headers, proof of work, votes.

``execute_block`` is the state transition every site runs. The proposer runs
it leniently (a transaction that cannot be included is dropped and reported);
a validator checking someone else's block runs it strictly (any such
transaction makes the whole block invalid).
"""

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace

from nacl.signing import SigningKey

from . import errors
from .encoding import BLOCK_DOMAIN, MAX_SAFE_INTEGER, VOTE_DOMAIN, canonical_json, merkle_root, sha256_hex
from .errors import LedgerError
from .fields import MAX_ROUND, is_chain_id, is_hex64, is_identifier, is_int
from .keys import address_of, sign, verify
from .kinds import BlockContext, TxKind, get_kind
from .state import Account, Param, State, StateStore
from .tx import Transaction
from .validators import apply_round_penalties

INVALID_BLOCK = "invalid_block"


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_hash: str
    ok: bool
    code: str = ""
    message: str = ""


@dataclass
class BlockResult:
    receipts: list[Receipt]
    included: list[Transaction]
    dropped: list[tuple[Transaction, LedgerError]]
    events: list[dict]
    energy: dict = field(default_factory=dict)


def empty_energy() -> dict:
    """Energy metadata of a block, all integers: Wh traded, renewable Wh, carbon credits in g CO2."""
    return {"traded_wh": 0, "renewable_wh": 0, "carbon_credits_g": 0}


@dataclass(frozen=True)
class BeginBlockHook:
    """Work a block does before its transactions (e.g. order expiry).

    ``run`` must be deterministic and must not raise: nothing can refuse a block's start.
    """

    name: str
    run: Callable[[State, BlockContext], None]
    #: From when the hook has work (store, params): the earliest block time, in ms,
    #: at which it does, or None while the committed state holds nothing for it.
    #: A proposer makes a block for it then even when no transaction is waiting.
    #: The answer is a function of the committed state, so a site asks it once per head.
    due_from: Callable[[StateStore, dict], int | None] | None = None


#: The installed begin-block hooks by name, in the order every block runs them:
#: filled by chain.ledger.assembly.install, in the protocol's order.
BEGIN_BLOCK_HOOKS: dict[str, BeginBlockHook] = {}


def params_after(params: dict, state: State) -> dict:
    """The parameters of the next block: ``params`` with the block's Param changes applied."""
    changed = state.dirty_records().get(Param.table, [])
    return {**params, **{p.name: p.value for p in changed}} if changed else params


def begin_block_due_from(store: StateStore, params: dict) -> int | None:
    """The earliest block time at which some begin-block hook has work, or None: none has any."""
    times = (h.due_from(store, params) for h in BEGIN_BLOCK_HOOKS.values() if h.due_from is not None)
    return min((t for t in times if t is not None), default=None)


def begin_block_due(store: StateStore, timestamp_ms: int, params: dict) -> bool:
    """True when some begin-block hook has work: expiry and gate closure need a block."""
    due_from = begin_block_due_from(store, params)
    return due_from is not None and due_from <= timestamp_ms


def execute_block(
    state: State,
    txs: list[Transaction],
    *,
    chain_id: str,
    height: int,
    timestamp_ms: int,
    params: dict,
    strict: bool,
    verify_signatures: bool,
    proposer: str = "",
    round: int = 0,
    previous_hash: str = "",
) -> BlockResult:
    """Apply ``txs`` in order. Included transactions consume their nonce, failed or not.

    ``proposer``, ``round`` and ``previous_hash`` come from the header: the
    block's start counts the proposer's block and the misses of the rounds
    before (chain.ledger.validators). Without a proposer (a core test) it doesn't.
    """
    ctx = BlockContext(
        chain_id, height, timestamp_ms, params, [], empty_energy(), proposer, round, previous_hash
    )
    if proposer:
        apply_round_penalties(
            state, proposer=proposer, round=round, previous_hash=previous_hash, params=params
        )
        state.commit_tx()
    # Each payload is checked once, before anything is read: a kind's check is a
    # pure function of payload and params, so its verdict can wait for the
    # transaction's turn, and only well-formed payloads name keys to prefetch.
    # A verdict is (kind, None), (kind, payload error) or (None, unknown kind).
    verdicts: list[tuple[TxKind | None, LedgerError | None]] = []
    prefetch: dict[str, set[str]] = {Account.table: {tx.sender for tx in txs}}
    for tx in txs:
        try:
            kind = get_kind(tx.kind)
        except LedgerError as exc:
            verdicts.append((None, exc))
            continue
        try:
            kind.check_payload(tx.payload, params)
        except LedgerError as exc:
            verdicts.append((kind, exc))
            continue
        verdicts.append((kind, None))
        try:
            for table, keys in kind.prefetch(tx).items():
                prefetch.setdefault(table, set()).update(keys)
        except LedgerError:
            pass  # reported when the transaction's turn comes
    for table, keys in prefetch.items():
        state.prefetch(table, keys)
    for hook in BEGIN_BLOCK_HOOKS.values():
        hook.run(state, ctx)
        state.commit_tx()

    result = BlockResult([], [], [], ctx.events, ctx.energy)
    for tx, (kind, payload_error) in zip(txs, verdicts, strict=True):
        try:
            _admit_in_block(state, tx, chain_id, verify_signatures)
            if kind is None:
                raise payload_error
        except LedgerError as exc:
            if strict:
                raise LedgerError(
                    INVALID_BLOCK,
                    "Transaction %(tx)s: %(reason)s",
                    {"tx": tx.hash, "reason": exc.message},
                ) from exc
            result.dropped.append((tx, exc))
            continue
        if payload_error is not None:
            receipt = Receipt(tx.hash, False, payload_error.code, payload_error.message)
        else:
            try:
                kind.apply(state, tx, ctx)
            except LedgerError as exc:
                state.rollback_tx()
                receipt = Receipt(tx.hash, False, exc.code, exc.message)
            else:
                receipt = Receipt(tx.hash, True)
        # After a failure the overlay is empty: the sender as it was before the transaction.
        state.put(state.account(tx.sender).with_next_nonce())
        state.commit_tx()
        result.receipts.append(receipt)
        result.included.append(tx)
    return result


def _admit_in_block(state: State, tx: Transaction, chain_id: str, verify_signatures: bool) -> None:
    if tx.chain_id != chain_id:
        raise LedgerError(errors.WRONG_CHAIN, "chain_id is not %(chain_id)s.", {"chain_id": chain_id})
    if verify_signatures and not tx.signature_valid():
        raise LedgerError(errors.BAD_SIGNATURE, "The signature does not match the sender.")
    expected = state.account(tx.sender).nonce
    if tx.nonce != expected:
        code = errors.NONCE_REPLAYED if tx.nonce < expected else errors.NONCE_GAP
        raise LedgerError(
            code, "Expected nonce %(expected)s, got %(nonce)s.", {"expected": expected, "nonce": tx.nonce}
        )


@dataclass(frozen=True, slots=True)
class BlockHeader:
    chain_id: str
    height: int
    timestamp_ms: int
    previous_hash: str
    merkle_root: str
    #: The state root after the previous block: diverging sites disagree here.
    state_root: str
    proposer: str
    round: int
    difficulty: int
    nonce: int
    tx_count: int
    energy: dict
    validators_hash: str

    def signing_bytes(self) -> bytes:
        return BLOCK_DOMAIN + canonical_json(asdict(self))

    @property
    def hash(self) -> str:
        return sha256_hex(self.signing_bytes())

    def meets_difficulty(self) -> bool:
        return int(self.hash, 16) >> (256 - self.difficulty) == 0 if self.difficulty else True


#: The header's fields in wire order, and the most entries its energy metadata may have.
HEADER_FIELDS = tuple(f.name for f in fields(BlockHeader))
MAX_ENERGY_ENTRIES = 16
_HEADER_HEX = ("previous_hash", "merkle_root", "state_root", "proposer", "validators_hash")
_HEADER_INTS = {
    "height": (1, MAX_SAFE_INTEGER),
    "timestamp_ms": (0, MAX_SAFE_INTEGER),
    "round": (0, MAX_ROUND),
    "difficulty": (0, 256),
    "nonce": (0, MAX_SAFE_INTEGER),
    "tx_count": (0, MAX_SAFE_INTEGER),
}


def header_from_wire(wire) -> BlockHeader:
    """A peer's block header (decoded JSON), refusing anything not exactly of its form.

    Every header from outside (a proposal, a block fetched while catching up)
    comes through here before any field is compared or hashed, so the checks
    after it never meet a string where a height goes or a difficulty of 300.
    """
    if type(wire) is not dict or set(wire) != set(HEADER_FIELDS):
        raise LedgerError(
            INVALID_BLOCK,
            "A header has exactly the fields %(fields)s.",
            {"fields": ", ".join(HEADER_FIELDS)},
        )
    if not is_chain_id(wire["chain_id"]):
        raise LedgerError(INVALID_BLOCK, "The header's chain_id is malformed.")
    bad = [name for name in _HEADER_HEX if not is_hex64(wire[name])]
    bad += [name for name, (low, high) in _HEADER_INTS.items() if not is_int(wire[name], low, high)]
    energy = wire["energy"]
    if (
        type(energy) is not dict
        or len(energy) > MAX_ENERGY_ENTRIES
        or not all(is_identifier(k) and is_int(v, 0, MAX_SAFE_INTEGER) for k, v in energy.items())
    ):
        bad.append("energy")
    if bad:
        raise LedgerError(INVALID_BLOCK, "The header's %(fields)s malformed.", {"fields": ", ".join(bad)})
    return BlockHeader(**{name: wire[name] for name in HEADER_FIELDS})


def block_merkle_root(txs: list[Transaction]) -> str:
    return merkle_root([tx.hash for tx in txs])


def validators_hash(public_keys: list[str]) -> str:
    """Commits the header to the active validator set (sorted public keys)."""
    return sha256_hex(canonical_json(sorted(public_keys)))


def required_difficulty(energy: dict, params: dict) -> int:
    """Hybrid PoW: only blocks that trade energy must meet the target."""
    return params["pow_difficulty_bits"] if energy.get("traded_wh") else 0


def mine(header: BlockHeader) -> BlockHeader:
    """Find the first nonce whose header hash has ``difficulty`` leading zero bits.

    The header is encoded once: only the nonce's digits change between tries,
    and "nonce" sorts between "merkle_root" and "previous_hash", so each try
    hashes the same prefix (copied from a running hash) and suffix around them.
    """
    if not header.difficulty:
        return replace(header, nonce=0)
    encoded = replace(header, nonce=0).signing_bytes()
    # The last match is the header's own field (a quote inside a string is escaped,
    # and only strings and integers follow it); ``cut`` is where its digit 0 stands.
    cut = encoded.rindex(b',"nonce":0,"previous_hash":') + len(b',"nonce":')
    prefix, suffix = hashlib.sha256(encoded[:cut]), encoded[cut + 1 :]
    shift = 256 - header.difficulty
    nonce = 0
    while True:
        attempt = prefix.copy()
        attempt.update(b"%d" % nonce + suffix)
        if int.from_bytes(attempt.digest(), "big") >> shift == 0:
            break
        nonce += 1
    return replace(header, nonce=nonce)


def vote_bytes(
    *, chain_id: str, height: int, round: int, vote_type: str, block_hash: str, pol_round: int | None = None
) -> bytes:
    """What every consensus message signs (proposal, prevote, precommit), encoded in this one
    place: a precommit in a commit certificate is then the very message its validator sent.
    A proposal also signs its ``pol_round``."""
    body = {
        "chain_id": chain_id,
        "height": height,
        "round": round,
        "type": vote_type,
        "block_hash": block_hash,
    }
    if pol_round is not None:
        body["pol_round"] = pol_round
    return VOTE_DOMAIN + canonical_json(body)


def precommit_bytes(*, chain_id: str, height: int, round: int, block_hash: str) -> bytes:
    return vote_bytes(
        chain_id=chain_id, height=height, round=round, vote_type="precommit", block_hash=block_hash
    )


def sign_precommit(key: SigningKey, header: BlockHeader) -> dict:
    message = precommit_bytes(
        chain_id=header.chain_id, height=header.height, round=header.round, block_hash=header.hash
    )
    return {"validator": address_of(key), "signature": sign(key, message)}


def precommit_valid(header: BlockHeader, precommit: dict) -> bool:
    """A precommit of the certificate: signed for this header's hash in the round that decided it.

    A block proposed in one round can be decided in a later one (a locked block
    proposed again), so each precommit names its round; without one, the
    header's round.
    """
    round_ = precommit.get("round", header.round)
    if type(round_) is not int:
        return False
    message = precommit_bytes(
        chain_id=header.chain_id, height=header.height, round=round_, block_hash=header.hash
    )
    return verify(precommit.get("validator", ""), message, precommit.get("signature", ""))
