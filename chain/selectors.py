"""The chain's read path: what pages, the API and commands show, and what consensus reads.

Reads only: no service is imported here, so every layer above may use these.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from django.conf import settings
from django.db import connection
from django.db.models import Count, OuterRef, Subquery, Sum
from django.utils.translation import gettext

from chain.caches import LatestKeyCache
from chain.consensus.machine import ValidatorSet
from chain.consensus.transport import peers_up, validators_head
from chain.events import EVERYONE
from chain.ledger.block import precommit_valid, validators_hash
from chain.ledger.state import Account as AccountRecord
from chain.ledger.state import Mining as MiningRecord
from chain.ledger.state import Validator as ValidatorRecord
from chain.ledger.tx import Transaction
from chain.ledger.validators import (
    is_active_validator,
    is_authority,
    proposer_for,
    proposer_weights,
    voting_power,
)
from chain.models import (
    Account,
    Block,
    ChainHead,
    ChainTx,
    ConsensusState,
    DroppedTx,
    Evidence,
    HeldTx,
    LedgerEvent,
    MempoolTx,
    Mining,
    ScalingDecision,
    ScalingState,
    Validator,
    Wallet,
)
from chain.node import node_address
from chain.peers import peer_urls, site_urls
from chain.store import DatabaseStore, transaction_rows


def chain_head() -> ChainHead:
    return ChainHead.objects.get()


def validator_set_rows() -> list[dict]:
    """Every validator with its stake (its account's staked units), for status pages."""
    stakes = dict(
        Account.objects.filter(address__in=Validator.objects.values("public_key")).values_list(
            "address", "staked"
        )
    )
    off = not_mining_keys()
    return [
        {
            "name": v.name,
            "public_key": v.public_key,
            "region": v.region,
            "url": v.url,
            "authority": v.authority,
            "active": v.active,
            "stake": stakes.get(v.public_key, 0),
            "reputation_ppm": v.reputation_ppm,
            "missed_in_row": v.missed_in_row,
            "missed_total": v.missed_total,
            "jailed": v.jailed,
            "blocks_proposed": v.blocks_proposed,
            "mining": v.public_key not in off,
        }
        for v in Validator.objects.order_by("name")
    ]


def node_status() -> dict:
    """This site as operators and peers read it: chain, consensus step, peers, mempool."""
    head = chain_head()
    me = node_address()
    consensus = consensus_status()
    peers = peer_urls()
    return {
        "chain_id": head.chain_id,
        "node_type": settings.GTX_NODE_TYPE,
        "node_address": me,
        "height": head.height,
        "round": consensus["round"],
        "step": "following" if settings.GTX_FOLLOWER else consensus["step"] or "waiting for transactions",
        "last_block_hash": head.block_hash,
        "last_block_at": head.last_block_at.isoformat() if head.last_block_at else None,
        "state_root": head.state_root,
        "mempool_size": MempoolTx.objects.count(),
        "peers": len(peers),
        "peers_up": peers_up(list(peers.values())),
        "active_validators": len(active_validators()),
        "evidence": consensus["evidence"],
        "consensus_metrics": consensus_metrics(head),
        "follower": follower_lag(head) if settings.GTX_FOLLOWER else None,
        "scaling": scaling_status(),
    }


#: Decisions of the scaling coordinator the status shows, newest first.
SCALING_DECISIONS_SHOWN = 5


def scaling_status() -> dict:
    """Intake's shards as the scaling coordinator last measured them, and its latest decisions
    (chain.services.scaling); ``sharding`` is None when intake runs in daphne, unsharded."""
    state = ScalingState.objects.filter(id=1).first()
    decisions = ScalingDecision.objects.all()[:SCALING_DECISIONS_SHOWN]
    return {
        "sharding": settings.GTX_SHARDING or None,
        "active_shards": state.active_shards if state else 1,
        "measured_at": state.measured_at.isoformat() if state and state.measured_at else None,
        "measurement": state.measurement if state else {},
        "decisions": [
            {
                "at": d.decided_at.isoformat(),
                "from": d.shards_from,
                "to": d.shards_to,
                "reason": d.reason,
                "tx_per_s": d.tx_per_s,
                "latency_ms": d.latency_ms,
                "cpu_percent": d.cpu_percent,
                "memory_mb": d.memory_mb,
                "db_ops_per_s": d.db_ops_per_s,
            }
            for d in decisions
        ],
    }


def follower_lag(head: ChainHead) -> dict:
    """How far this follower is behind the validators: the highest head it heard of (a pushed
    block, or a validator's status at its last pull), in heights and in block time (None
    while it holds no block: there is no time of its own to count from)."""
    heard = validators_head() or {}
    validators_height = max(heard.get("height", 0), head.height)
    behind = validators_height - head.height
    own_ms = int(head.last_block_at.timestamp() * 1000) if head.last_block_at else 0
    behind_ms = max(0, heard.get("timestamp_ms", 0) - own_ms) if behind else 0
    heard_ms = heard.get("heard_ms")
    return {
        "validators_height": validators_height,
        "behind_heights": behind,
        "behind_seconds": round(behind_ms / 1000, 1) if own_ms or not behind else None,
        "heard_at": datetime.fromtimestamp(heard_ms / 1000, tz=UTC).isoformat() if heard_ms else None,
    }


#: Blocks the average block time is taken over.
BLOCK_TIME_WINDOW = 100


def consensus_metrics(head: ChainHead) -> dict:
    """The seed's ConsensusMetrics, read from the committed chain (nothing here is estimated).

    ``rounds_completed`` counts every round the network ran to commit its blocks (a block
    decided in round r took r + 1); ``missed_blocks`` sums the validators' missed proposals.
    """
    voting = active_validators()
    # Only blocks decided after round 0 add rounds: a partial index holds just those, so the
    # status read stays cheap however long the chain grows.
    totals = Block.objects.filter(round__gt=0).aggregate(later_rounds=Sum("round"))
    window = list(
        Block.objects.filter(height__in=[head.height, max(head.height - BLOCK_TIME_WINDOW, 1)])
        .order_by("height")
        .values_list("height", "timestamp_ms")
    )
    average_ms = None
    if len(window) == 2 and window[1][0] > window[0][0]:
        average_ms = (window[1][1] - window[0][1]) // (window[1][0] - window[0][0])
    return {
        "active_validators": len(voting),
        "total_stake": Account.objects.filter(address__in=[v.public_key for v in voting]).aggregate(
            s=Sum("staked")
        )["s"]
        or 0,
        "average_block_time_ms": average_ms,
        "last_finalized_height": head.height,
        "missed_blocks": Validator.objects.aggregate(m=Sum("missed_total"))["m"] or 0,
        "rounds_completed": head.height + (totals["later_rounds"] or 0),
    }


def consensus_status() -> dict:
    """Where consensus stands on this site, for the status page and ``manage.py status``."""
    head = ChainHead.objects.get()
    row = ConsensusState.objects.filter(id=1).first()
    return {
        "height": head.height,
        "round": row.round if row and row.height == head.height + 1 else 0,
        # Before a height starts there is no step yet: the site waits for work.
        "step": row.step if row and row.height == head.height + 1 and row.started else "",
        "started": bool(row and row.height == head.height + 1 and row.started),
        "last_commit_at": head.last_block_at,
        "evidence": Evidence.objects.count(),
        "stalled_for": (datetime.now(UTC) - row.progress_at) if row and row.progress_at else timedelta(0),
    }


# --- the validator set, as consensus and block checks read it ------------------


def active_validators() -> list[Validator]:
    """The validators that vote and may propose, by key, as the ledger's
    ``is_active_validator`` decides (active, not jailed, staked): the set is small,
    so each is read with its stake and the ledger's rule applied."""
    return _active(*_validators_and_accounts())


def _validators_and_accounts() -> tuple[list[Validator], dict[str, Account]]:
    """Every validator by key, and the accounts of their keys."""
    validators = list(Validator.objects.order_by("public_key"))
    return validators, {
        a.address: a for a in Account.objects.filter(address__in=[v.public_key for v in validators])
    }


def _active(validators: list[Validator], accounts: dict[str, Account]) -> list[Validator]:
    return [v for v in validators if is_active_validator(v, accounts.get(v.public_key))]


def not_mining_keys() -> frozenset[str]:
    """The validators that turned their mining off (validator_set_mining): the draw passes them by."""
    return frozenset(Mining.objects.filter(mining=False).values_list("public_key", flat=True))


def authority_get(*, public_key: str) -> Validator | None:
    """The validator with ``public_key`` if it may act as an authority now (the ledger's
    ``is_authority``: a jailed authority may not), else None."""
    validator = Validator.objects.filter(public_key=public_key).first()
    return validator if is_authority(validator) else None


@dataclass(frozen=True)
class HeadValidators:
    """The validator records as the head leaves them: what consensus and block checks read."""

    validator_set: ValidatorSet
    proposer_weights: dict
    #: The hash of the active validators' keys (chain.ledger.validators.is_active_validator).
    validators_hash: str
    #: {public key: base URL} of the validators marked active (chain.peers.site_urls), this site's too.
    active_urls: dict[str, str]


def _head_validators_read(previous: str, state_root: str) -> HeadValidators:
    """Read once per head and process, as the ledger's records (no ORM objects): the validators
    and their accounts serve the voting power, the proposer weights, the active set's hash and
    the peers' urls alike (``active_validators``' rule)."""
    store = DatabaseStore()
    validators = sorted(store.load_all(ValidatorRecord.table).values(), key=attrgetter("public_key"))
    accounts = store.load(AccountRecord.table, [v.public_key for v in validators])
    not_mining = frozenset(key for key, m in store.load_all(MiningRecord.table).items() if not m.mining)
    power = voting_power(validators, accounts)
    authorities = frozenset(v.public_key for v in validators if is_authority(v) and v.public_key in power)
    weights = proposer_weights(validators, accounts, chain_head().params, not_mining)
    return HeadValidators(
        validator_set=ValidatorSet(power, authorities, lambda round: proposer_for(weights, previous, round)),
        proposer_weights=weights,
        validators_hash=validators_hash([v.public_key for v in _active(validators, accounts)]),
        active_urls=site_urls(((v.public_key, v.name, v.url) for v in validators if v.active), me=None),
    )


#: The validators after one head, keyed by its block hash and state root: only a block
#: changes the validator records (and every step, check and intake of a height asks).
head_validators_cache: LatestKeyCache[HeadValidators] = LatestKeyCache(_head_validators_read)


def peer_urls_at(previous: str, state_root: str, me: str) -> list[str]:
    """The base URLs of the active validators other than ``me`` after the head ``previous``:
    where a consensus step sends its messages."""
    urls = head_validators_cache.get(previous, state_root).active_urls
    return [url for key, url in urls.items() if key != me]


def validators_hash_at(block_hash: str, state_root: str) -> str:
    """The active set's hash after the head ``block_hash``."""
    return head_validators_cache.get(block_hash, state_root).validators_hash


def validator_set(head: ChainHead) -> ValidatorSet:
    """Voting power, authorities and proposer rule for the next height, from the committed state."""
    return validator_set_at(head.block_hash, head.state_root)


def validator_set_at(previous: str, state_root: str) -> ValidatorSet:
    """Voting power, authorities and proposer rule after the head ``previous``."""
    return head_validators_cache.get(previous, state_root).validator_set


def proposer_weights_at(previous: str, state_root: str) -> dict:
    """The proposer weights after the head ``previous`` (the peer protocol checks proposals with them)."""
    return head_validators_cache.get(previous, state_root).proposer_weights


def account_history(address: str, limit: int = 50):
    return ChainTx.objects.filter(parties__contains=[address]).order_by("-block_id", "-position")[:limit]


def pending_for(address: str):
    return MempoolTx.objects.filter(sender=address).order_by("nonce")


# --- a person's own transactions and activity feed ------------------------------------

#: The states a person's transaction shows (chain/activity/_transactions.html): waiting
#: (held a nonce ahead, or in the mempool), in a block (took effect or failed there), or left
#: out of every block with its receipt's reason.
HELD, PENDING, INCLUDED, FAILED, DROPPED = "held", "pending", "included", "failed", "dropped"
WAITING_STATES = (HELD, PENDING)


@dataclass(frozen=True, slots=True)
class OwnTransaction:
    """One transaction an account signed, where it stands now."""

    hash: str
    kind: str
    nonce: int
    state: str
    #: When this site received it (in a block or waiting) or dropped it.
    at: datetime
    height: int | None = None
    error_code: str = ""
    error_message: str = ""
    payload: dict | None = None


def own_transactions(*, address: str, limit: int = 10) -> list[OwnTransaction]:
    """The latest ``limit`` transactions ``address`` signed, newest first, each in its state.

    Four small reads by sender (held, mempool, blocks, drop receipts), each bounded by ``limit``.
    The held and mempool rows are read first, as chain.selectors.transaction_find does: a block
    committing between the reads then shows a transaction twice at worst, never not at all;
    the later state wins.
    """
    found: dict[str, OwnTransaction] = {}
    for row in HeldTx.objects.filter(sender=address).order_by("-nonce")[:limit]:
        found[row.hash] = OwnTransaction(
            row.hash, row.kind, row.nonce, HELD, row.received_at, payload=row.payload
        )
    for row in MempoolTx.objects.filter(sender=address).order_by("-nonce")[:limit]:
        found[row.hash] = OwnTransaction(
            row.hash, row.kind, row.nonce, PENDING, row.received_at, payload=row.payload
        )
    for row in ChainTx.objects.filter(sender=address).order_by("-nonce")[:limit]:
        found[row.hash] = OwnTransaction(
            row.hash,
            row.kind,
            row.nonce,
            INCLUDED if row.ok else FAILED,
            row.received_at,
            row.block_id,
            row.error_code,
            row.error_message,
            row.payload,
        )
    for row in DroppedTx.objects.filter(sender=address).order_by("-dropped_at")[:limit]:
        if row.hash not in found or found[row.hash].state in WAITING_STATES:
            found[row.hash] = OwnTransaction(
                row.hash,
                row.kind,
                row.nonce,
                DROPPED,
                row.dropped_at,
                None,
                row.error_code,
                row.error_message,
            )
    return sorted(found.values(), key=lambda tx: (tx.at, tx.nonce), reverse=True)[:limit]


def _feed_of(address: str):
    return LedgerEvent.objects.filter(parties__overlap=[address, EVERYONE])


def activity_feed(*, address: str, limit: int = 50) -> list[LedgerEvent]:
    """The latest ledger events ``address`` is party to, and those for everyone, newest first."""
    return list(_feed_of(address).order_by("-id")[:limit])


def activity_unseen_count(*, address: str, seen_id: int, cap: int = 99) -> int:
    """How many feed events came after ``seen_id`` (at most ``cap``: the badge says 99+)."""
    return _feed_of(address).filter(id__gt=seen_id).order_by("-id")[: cap + 1].count()


def activity_latest_id() -> int:
    """The newest feed event's id (0 when none): what a person has seen after opening the feed."""
    return LedgerEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- the REST API's read path -------------------------------------------------


def transaction_find(*, tx_hash: str) -> tuple[str, object] | None:
    """Where a transaction stands: ("held", HeldTx), ("pending", MempoolTx), ("committed", ChainTx),
    ("dropped", DroppedTx).

    Looked up in the order a transaction moves (held, mempool, then chain or dropped):
    a block committing between two lookups can then never hide it.
    """
    held = HeldTx.objects.filter(hash=tx_hash).first()
    if held is not None:
        return "held", held
    pending = MempoolTx.objects.filter(hash=tx_hash).first()
    if pending is not None:
        return "pending", pending
    committed = ChainTx.objects.select_related("block").filter(hash=tx_hash).first()
    if committed is not None:
        return "committed", committed
    dropped = DroppedTx.objects.filter(hash=tx_hash).first()
    if dropped is not None:
        return "dropped", dropped
    return None


def committed_transactions(chain_id: str, hashes: list[str]) -> dict[str, Transaction]:
    """The transactions of ``hashes`` already in this site's blocks, by hash."""
    txs = transaction_rows(
        chain_id,
        "SELECT hash, sender, nonce, kind, payload::text, signature FROM chain_chaintx WHERE hash = ANY(%b)",
        [hashes],
    )
    return {tx.hash: tx for tx in txs}


def blocks_newest_first():
    return Block.objects.order_by("-height")


def block_find(*, height: int | None = None, block_hash: str | None = None) -> Block | None:
    lookup = {"height": height} if height is not None else {"hash": block_hash}
    return Block.objects.filter(**lookup).first()


def block_transactions(*, block: Block):
    return ChainTx.objects.filter(block=block).order_by("position")


def blocks_transactions(*, heights: list[int]) -> dict[int, list[ChainTx]]:
    """Each block's transactions in block order, for a page of blocks in one query."""
    found: dict[int, list[ChainTx]] = {height: [] for height in heights}
    for tx in ChainTx.objects.filter(block_id__in=heights).order_by("block_id", "position"):
        found[tx.block_id].append(tx)
    return found


def account_find(*, address: str) -> Account | None:
    return Account.objects.filter(address=address).first()


def account_pending(*, address: str) -> dict:
    """What the mempool holds for ``address``: how many transactions, and the units they may take."""
    totals = MempoolTx.objects.filter(sender=address).aggregate(count=Count("id"), debit=Sum("token_debit"))
    return {"count": totals["count"], "token_debit": totals["debit"] or 0}


def account_transactions(*, address: str):
    """Committed transactions ``address`` took part in, newest first."""
    return ChainTx.objects.select_related("block").filter(parties__contains=[address])


# --- pages of the web UI ------------------------------------------------------


def chain_stats() -> dict:
    """Figures for the home page: height, last block, committed transactions, validators."""
    head = chain_head()
    return {
        "chain_id": head.chain_id,
        "height": head.height,
        "last_block_at": head.last_block_at,
        "tx_count": Block.objects.aggregate(n=Sum("tx_count"))["n"] or 0,
        "active_validators": len(active_validators()),
        "mempool_size": MempoolTx.objects.count(),
        "total_supply": head.total_supply,
    }


def chain_regions() -> list[dict]:
    """Genesis regions (id, name in the active language, utility), for sign-up and region pickers."""
    return [{**r, "name": gettext(r["name"])} for r in chain_head().params["regions"]]


def _genesis_region_names(database: str) -> dict[str, str]:
    return {r["id"]: r["name"] for r in ChainHead.objects.only("params").get().params["regions"]}


#: The genesis fixes the regions for the chain's life: read once per database and process.
_REGION_NAMES = LatestKeyCache(_genesis_region_names)


def region_name(region_id: str) -> str:
    """A region's genesis name in the active language (``grid.region_names``), else its id."""
    name = _REGION_NAMES.get(connection.settings_dict["NAME"]).get(region_id)
    return gettext(name) if name else region_id


def account_known(*, address: str) -> bool:
    """An address is known when the chain holds its account or a user of this site owns it."""
    return Account.objects.filter(address=address).exists() or Wallet.objects.filter(address=address).exists()


def wallet_balances(*, address: str) -> dict:
    """Committed balances plus what waiting transactions already hold back.

    ``available`` is what admission will still accept a debit of: the balance
    less the token debits of this account's transactions in the mempool.
    ``unbondable`` is the stake less unbonds already waiting.
    """
    account = account_find(address=address) or Account(address=address)
    pending = MempoolTx.objects.filter(sender=address)
    debit = pending.aggregate(n=Sum("token_debit"))["n"] or 0
    unbonding_pending = sum(
        m.payload.get("amount", 0) for m in pending.filter(kind="stake_unbond").only("payload")
    )
    return {
        "account": account,
        "pending_debit": debit,
        "available": max(account.balance - debit, 0),
        "unbondable": max(account.staked - unbonding_pending, 0),
    }


def wallet_for_username(*, username: str) -> Wallet | None:
    return Wallet.objects.select_related("user").filter(user__username=username).first()


def usernames_by_address(*, addresses) -> dict[str, str]:
    """Who owns each address on this site. Personal data: only for regulators and staff."""
    return dict(Wallet.objects.filter(address__in=set(addresses)).values_list("address", "user__username"))


def validator_names() -> dict[str, str]:
    return dict(Validator.objects.values_list("public_key", "name"))


def blocks_before(*, height: int | None, limit: int = 25):
    blocks = blocks_newest_first()
    if height is not None:
        blocks = blocks.filter(height__lt=height)
    return blocks[:limit]


def block_certificate(*, block: Block) -> list[dict]:
    """The block's precommits, each with its validator's name and whether its signature holds."""
    header = block.header(chain_head().chain_id)
    names = validator_names()
    hash_matches = header.hash == block.hash
    return [
        {
            "validator": precommit.get("validator", ""),
            "name": names.get(precommit.get("validator", ""), "unknown validator"),
            "signature": precommit.get("signature", ""),
            "valid": hash_matches and precommit_valid(header, precommit),
        }
        for precommit in block.commit_certificate
    ]


def wallets_all():
    """Every user's wallet with its committed balance, for regulators and staff."""
    balance = Account.objects.filter(address=OuterRef("address")).values("balance")[:1]
    return (
        Wallet.objects.select_related("user").annotate(balance=Subquery(balance)).order_by("user__username")
    )
