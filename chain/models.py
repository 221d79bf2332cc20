"""What a site stores: the ledger state tables, the chain of blocks, the mempool, wallets.

State tables mirror the ledger core's records field for field (``ledger_record``)
so a block's changes are written with one upsert per table.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chain.ledger import evidence as ledger_evidence
from chain.ledger import state as ledger_state
from chain.ledger.block import BlockHeader


class Account(models.Model):
    """Token amounts in the smallest unit (10^-6 token); energy in Wh."""

    ledger_record = ledger_state.Account

    address = models.CharField(max_length=64, primary_key=True)
    balance = models.BigIntegerField(default=0)
    staked = models.BigIntegerField(default=0)
    unbonding = models.BigIntegerField(default=0)
    unbonding_release_height = models.BigIntegerField(default=0)
    escrow_tokens = models.BigIntegerField(default=0)
    energy_wh = models.BigIntegerField(default=0)
    escrow_wh = models.BigIntegerField(default=0)
    nonce = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="account_amounts_non_negative",
                condition=Q(balance__gte=0)
                & Q(staked__gte=0)
                & Q(unbonding__gte=0)
                & Q(escrow_tokens__gte=0)
                & Q(energy_wh__gte=0)
                & Q(escrow_wh__gte=0)
                & Q(nonce__gte=0),
            )
        ]

    def __str__(self) -> str:
        return self.address


class Validator(models.Model):
    ledger_record = ledger_state.Validator

    public_key = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=64)
    url = models.CharField(max_length=200)
    region = models.CharField(max_length=32)
    authority = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    reputation_ppm = models.BigIntegerField(default=1_000_000)
    missed_in_row = models.BigIntegerField(default=0)
    missed_total = models.BigIntegerField(default=0)
    jailed = models.BooleanField(default=False)
    blocks_proposed = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Mining(models.Model):
    """A validator that turned its mining off or on again (ledger record chain.ledger.state.Mining);
    a validator without a row mines."""

    ledger_record = ledger_state.Mining

    public_key = models.CharField(max_length=64, primary_key=True)
    mining = models.BooleanField()

    def __str__(self) -> str:
        return f"{self.public_key[:10]} {'mines' if self.mining else 'does not mine'}"


class Param(models.Model):
    """A chain parameter changed after genesis; ChainHead.params already includes it."""

    ledger_record = ledger_state.Param

    name = models.CharField(max_length=64, primary_key=True)
    value = models.JSONField()

    def __str__(self) -> str:
        return self.name


class ChainHead(models.Model):
    """The single row saying where this site's chain stands. Locked while a block is applied."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    chain_id = models.CharField(max_length=64)
    genesis_hash = models.CharField(max_length=64)
    #: The parameters the next block runs under: genesis values overlaid with Param records.
    params = models.JSONField()
    height = models.BigIntegerField(default=0)
    block_hash = models.CharField(max_length=64)
    last_block_at = models.DateTimeField(null=True)
    #: The state accumulator (hex of 256 bytes) and its root, after block ``height``.
    accumulator = models.TextField()
    state_root = models.CharField(max_length=64)
    total_supply = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(name="chain_head_singleton", condition=Q(id=1))]

    def __str__(self) -> str:
        return f"{self.chain_id} at #{self.height}"


class Block(models.Model):
    height = models.BigIntegerField(primary_key=True)
    hash = models.CharField(max_length=64, unique=True)
    previous_hash = models.CharField(max_length=64)
    timestamp_ms = models.BigIntegerField()
    merkle_root = models.CharField(max_length=64)
    state_root = models.CharField(max_length=64)
    proposer = models.CharField(max_length=64)
    round = models.IntegerField(default=0)
    difficulty = models.IntegerField(default=0)
    nonce = models.BigIntegerField(default=0)
    tx_count = models.IntegerField(default=0)
    energy = models.JSONField(default=dict)
    validators_hash = models.CharField(max_length=64)
    commit_certificate = models.JSONField(default=list)
    #: State root after this block (the next header carries it).
    result_state_root = models.CharField(max_length=64)

    class Meta:
        ordering = ["-height"]
        indexes = [
            # The blocks that took more than one round: what rounds_completed sums (selectors).
            models.Index(fields=["round"], name="block_later_rounds", condition=Q(round__gt=0)),
        ]

    def __str__(self) -> str:
        return f"#{self.height}"

    def header(self, chain_id: str) -> BlockHeader:
        """The header as stored; its hash must equal ``hash`` for the row to be genuine."""
        return BlockHeader(
            chain_id=chain_id,
            height=self.height,
            timestamp_ms=self.timestamp_ms,
            previous_hash=self.previous_hash,
            merkle_root=self.merkle_root,
            state_root=self.state_root,
            proposer=self.proposer,
            round=self.round,
            difficulty=self.difficulty,
            nonce=self.nonce,
            tx_count=self.tx_count,
            energy=self.energy,
            validators_hash=self.validators_hash,
        )

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)


class ChainTx(models.Model):
    """A transaction in a block, with its receipt. ``parties`` indexes account history."""

    hash = models.CharField(max_length=64, primary_key=True)
    # No index of its own: chaintx_block_position leads with it.
    block = models.ForeignKey(Block, on_delete=models.PROTECT, related_name="transactions", db_index=False)
    position = models.IntegerField()
    sender = models.CharField(max_length=64)
    nonce = models.BigIntegerField()
    kind = models.CharField(max_length=32)
    payload = models.JSONField()
    signature = models.CharField(max_length=128)
    ok = models.BooleanField()
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    parties = ArrayField(models.CharField(max_length=64))
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-block_id", "-position"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "nonce"], name="chaintx_sender_nonce"),
            models.UniqueConstraint(fields=["block", "position"], name="chaintx_block_position"),
        ]
        indexes = [GinIndex(fields=["parties"], name="chaintx_parties_gin")]

    def __str__(self) -> str:
        return self.hash


class MempoolTx(models.Model):
    """An admitted transaction waiting for a block. ``(turn, id)`` order is block order."""

    id = models.BigAutoField(primary_key=True)
    hash = models.CharField(max_length=64, unique=True)
    sender = models.CharField(max_length=64)
    nonce = models.BigIntegerField()
    kind = models.CharField(max_length=32)
    payload = models.JSONField()
    signature = models.CharField(max_length=128)
    token_debit = models.BigIntegerField(default=0)
    energy_debit_wh = models.BigIntegerField(default=0)
    received_at = models.DateTimeField()
    #: Its round in the round-robin over senders (chain.services.admission): one past the
    #: sender's previous waiting transaction, and never before the oldest round still waiting,
    #: so a sender with thousands waiting does not hold back one that arrives after them.
    turn = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["turn", "id"], name="mempool_turn_id")]
        constraints = [
            models.UniqueConstraint(fields=["sender", "nonce"], name="mempool_sender_nonce"),
            models.CheckConstraint(name="mempool_debit_non_negative", condition=Q(token_debit__gte=0)),
            models.CheckConstraint(
                name="mempool_energy_debit_non_negative", condition=Q(energy_debit_wh__gte=0)
            ),
        ]

    def __str__(self) -> str:
        return self.hash


class HeldTx(models.Model):
    """A signed transaction that arrived before its predecessor (a nonce ahead of the next one).

    Held for GTX_HOLD_SECONDS, then admitted to the mempool once its predecessor is waiting
    or committed, or dropped (``nonce_gap``). It counts toward no balance and no next nonce.
    """

    hash = models.CharField(max_length=64, primary_key=True)
    sender = models.CharField(max_length=64)
    nonce = models.BigIntegerField()
    kind = models.CharField(max_length=32)
    payload = models.JSONField()
    signature = models.CharField(max_length=128)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sender", "nonce"], name="held_sender_nonce")]

    def __str__(self) -> str:
        return self.hash


class DroppedTx(models.Model):
    """The receipt of a transaction admitted (or held) but left out of every block, and why.

    Kept GTX_DROPPED_RECEIPT_DAYS, so that a 202 is answered ``dropped`` rather than 404.
    """

    hash = models.CharField(max_length=64, primary_key=True)
    sender = models.CharField(max_length=64)
    nonce = models.BigIntegerField()
    kind = models.CharField(max_length=32)
    error_code = models.CharField(max_length=40)
    error_message = models.TextField()
    dropped_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["dropped_at"], name="dropped_at"),
            # A person's recent receipts, for the state of their transactions (every page's header).
            models.Index(fields=["sender", "-dropped_at"], name="dropped_sender_at"),
        ]

    def __str__(self) -> str:
        return self.hash


class LedgerEvent(models.Model):
    """A ledger event of a committed block that concerns accounts (chain.events.FEED_EVENT_TYPES):
    what a person's activity feed lists. Written with the block, in its database transaction.

    ``parties`` is ``[chain.events.EVERYONE]`` for an event every feed shows (a proposal decided).
    """

    id = models.BigAutoField(primary_key=True)
    height = models.BigIntegerField()
    #: Its place among the block's events: block order, as every site emits them.
    position = models.IntegerField()
    type = models.CharField(max_length=40)
    parties = ArrayField(models.CharField(max_length=64))
    data = models.JSONField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["height", "position"], name="ledgerevent_height_position")
        ]
        indexes = [GinIndex(fields=["parties"], name="ledgerevent_parties_gin")]

    def __str__(self) -> str:
        return f"{self.type} @{self.height}"


class Role(models.TextChoices):
    CONSUMER = "consumer", _("Consumer")
    PRODUCER = "producer", _("Producer")
    REGULATOR = "regulator", _("Regulator")


class Custody(models.TextChoices):
    """Who holds a wallet's key: this site (sealed, it signs) or the person's browser (it signs)."""

    SITE = "site", "Kept by this site"
    SELF = "self", "Kept in your browser"


class Wallet(models.Model):
    """A user's account key, sealed at rest (see chain.services.wallets). Never shown again in clear.

    A self-custody wallet has no key here at all: only the address its owner proved theirs.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet")
    address = models.CharField(max_length=64, unique=True)
    custody = models.CharField(max_length=4, choices=Custody.choices, default=Custody.SITE)
    #: None exactly when the key is in the owner's hands (``custody`` is ``self``).
    sealed_key = models.BinaryField(null=True)
    #: The GTX_WALLET_KEYS version ``sealed_key`` is sealed under (`manage.py reseal_wallets`).
    seal_key_version = models.PositiveSmallIntegerField(null=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CONSUMER)
    region = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    #: The newest LedgerEvent id the person had when they last opened their activity feed:
    #: the header's badge counts what came after it.
    activity_seen_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="wallet_key_sealed_unless_self_custody",
                condition=Q(custody="site", sealed_key__isnull=False, seal_key_version__isnull=False)
                | Q(custody="self", sealed_key__isnull=True, seal_key_version__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.address[:10]}…)"

    @property
    def self_custody(self) -> bool:
        return self.custody == Custody.SELF


class WalletKeyEvent(models.Model):
    """The audit trail of what happened to wallet keys: exported, imported, linked, refused.

    Kept apart from the wallet so a wallet replaced by an import keeps its history.
    """

    class Action(models.TextChoices):
        EXPORTED = "exported", "Backup exported"
        IMPORTED = "imported", "Backup imported"
        LINKED = "linked", "Self-custody key linked"
        REFUSED = "refused", "Attempt refused"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="key_events")
    action = models.CharField(max_length=8, choices=Action.choices)
    address = models.CharField(max_length=64, blank=True)
    #: What was refused and why, as the error code the person saw ("wrong_passphrase", ...).
    reason = models.CharField(max_length=32, blank=True)
    client_ip = models.GenericIPAddressField(null=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-at"], name="wallet_key_event_user_at")]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.address[:10]}"


class ConsensusState(models.Model):
    """This site's place in consensus (chain.consensus.machine.RoundState), saved after every step.

    Only the consensus step writes it, under its advisory lock; a restarted
    worker goes on from here, so a site never signs two votes for one round.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    height = models.BigIntegerField()
    round = models.IntegerField(default=0)
    step = models.CharField(max_length=16, default="propose")
    locked_value = models.CharField(max_length=64, blank=True)
    locked_round = models.IntegerField(default=-1)
    valid_value = models.CharField(max_length=64, blank=True)
    valid_round = models.IntegerField(default=-1)
    prevote_timeout_round = models.IntegerField(default=-1)
    valid_rule_round = models.IntegerField(default=-1)
    precommit_timeout_round = models.IntegerField(default=-1)
    started = models.BooleanField(default=False)
    #: Pending timeouts: [[due_ms, step, height, round], ...]; beat fires the due ones.
    timeouts = models.JSONField(default=list)
    #: When the height last changed (or this site last resent its messages): stall detection.
    progress_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.CheckConstraint(name="consensus_state_singleton", condition=Q(id=1))]

    def __str__(self) -> str:
        return f"{self.height}/{self.round}/{self.step}"


class ConsensusMessage(models.Model):
    """A signed proposal or vote, ours or a peer's, kept until its height is decided."""

    id = models.BigAutoField(primary_key=True)
    height = models.BigIntegerField()
    round = models.IntegerField()
    type = models.CharField(max_length=16)
    sender = models.CharField(max_length=64)
    block_hash = models.CharField(max_length=64, blank=True)
    pol_round = models.IntegerField(default=-1)
    signature = models.CharField(max_length=128)
    processed = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["height", "round", "type", "sender", "block_hash"], name="consensus_message_unique"
            )
        ]
        indexes = [models.Index(fields=["height", "processed"], name="consensus_msg_height")]

    def __str__(self) -> str:
        return f"{self.type} {self.height}/{self.round} by {self.sender[:8]}"


class ProposedBlock(models.Model):
    """A proposed block's header and transaction hashes, until its height is decided.

    ``txs`` holds the bodies the proposal carried (wire form), ``fetched_txs``
    those fetched from peers after it came (outside the consensus lock); the
    others come from this site's mempool. Bodies from either list are checked
    with the block (signatures included).
    """

    hash = models.CharField(max_length=64, primary_key=True)
    height = models.BigIntegerField(db_index=True)
    header = models.JSONField()
    tx_hashes = models.JSONField(default=list)
    txs = models.JSONField(default=list)
    fetched_txs = models.JSONField(default=list)
    #: "" while unchecked, else "valid" or the reason it is not.
    verdict = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"proposal #{self.height} {self.hash[:10]}"


class DoubleSign(models.Model):
    """A punished double signing (ledger record chain.ledger.evidence.DoubleSign)."""

    ledger_record = ledger_evidence.DoubleSign

    offence = models.CharField(max_length=200, primary_key=True)
    validator = models.CharField(max_length=64)
    height = models.BigIntegerField()
    round = models.BigIntegerField()
    type = models.CharField(max_length=16)
    slashed = models.BigIntegerField()
    reported_by = models.CharField(max_length=64)
    included_height = models.BigIntegerField()

    def __str__(self) -> str:
        return self.offence


class Evidence(models.Model):
    """Double signing this site saw; reported on chain (evidence_double_sign) by the next tick."""

    key = models.CharField(max_length=200, primary_key=True)
    validator = models.CharField(max_length=64)
    height = models.BigIntegerField()
    round = models.IntegerField()
    type = models.CharField(max_length=16)
    first = models.JSONField()
    second = models.JSONField()
    reported = models.BooleanField(default=False)
    found_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"double {self.type} by {self.validator[:8]} at {self.height}/{self.round}"


class ShardWork(models.Model):
    """One batch a shard's worker took from its queue: what the coordinator measures."""

    shard = models.SmallIntegerField()
    finished_at = models.DateTimeField(db_index=True)
    transactions = models.IntegerField()
    admitted = models.BooleanField()
    busy_us = models.BigIntegerField()
    waited_us = models.BigIntegerField()

    def __str__(self) -> str:
        return f"shard {self.shard}: {self.transactions} tx in {self.busy_us} µs"


class ScalingDecision(models.Model):
    """Each tick of the scaling coordinator that changed the shard count, with what it measured."""

    decided_at = models.DateTimeField(auto_now_add=True, db_index=True)
    shards_from = models.SmallIntegerField()
    shards_to = models.SmallIntegerField()
    reason = models.CharField(max_length=200)
    tx_per_s = models.FloatField()
    latency_ms = models.FloatField()
    cpu_percent = models.FloatField()
    memory_mb = models.FloatField()
    db_ops_per_s = models.FloatField()
    shard_loads = models.JSONField(default=list)

    class Meta:
        ordering = ["-decided_at"]

    def __str__(self) -> str:
        return f"{self.shards_from} -> {self.shards_to}: {self.reason}"


class ScalingState(models.Model):
    """The site's active shard count and the coordinator's latest measurement (one row)."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    active_shards = models.SmallIntegerField(default=1)
    measured_at = models.DateTimeField(null=True)
    measurement = models.JSONField(default=dict)
    #: pg_stat_database's committed and rolled-back transactions at the last tick (database ops).
    db_ops_total = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.active_shards} active shards"
