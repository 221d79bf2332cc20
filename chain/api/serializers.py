"""What the API sends back, and the shapes it documents in the OpenAPI schema.

Intake is not parsed with serializers (the ledger core parses signed
transactions, thousands a second); SignedTransactionSerializer only documents it.
Amounts are integers in the smallest unit (10^-6 token); energy in Wh.
"""

from rest_framework import serializers

from chain.models import Account, Block, ChainTx, Role


class SignedTransactionSerializer(serializers.Serializer):
    """A signed transaction as clients send it; docs/PROTOCOL.md specifies the signed bytes."""

    chain_id = serializers.CharField(help_text="The chain's id, e.g. gridtokenx-th-demo-1.")
    sender = serializers.RegexField(r"^[0-9a-f]{64}$", help_text="Sender address: hex ed25519 public key.")
    nonce = serializers.IntegerField(min_value=0, help_text="Exactly the sender's next nonce.")
    kind = serializers.CharField(help_text="transfer, stake_bond, stake_unbond, or a kind an app registers.")
    payload = serializers.JSONField(help_text="Kind-specific object; amounts are integers in units.")
    signature = serializers.RegexField(r"^[0-9a-f]{128}$", help_text="Hex ed25519 signature.")


class SubmitAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="How many transactions entered the mempool or the hold.")
    hashes = serializers.ListField(child=serializers.CharField(), help_text="In submission order.")
    status = serializers.ChoiceField(
        choices=["pending", "held"],
        help_text="held: some wait for a predecessor nonce (listed in `held`), the rest are pending.",
    )
    held = serializers.ListField(
        child=serializers.CharField(),
        help_text=(
            "Hashes held because their nonce is ahead of the sender's next one: admitted when the "
            "predecessor arrives (by gossip or a block) within GTX_HOLD_SECONDS, else dropped (nonce_gap)."
        ),
    )


class ProblemSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="Position in the batch; null for the body.")
    code = serializers.CharField()
    message = serializers.CharField()
    expected_nonce = serializers.IntegerField(
        required=False,
        help_text="With nonce_gap and nonce_replayed: the nonce the next transaction must carry here.",
    )


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable: clients match on it.")
    message = serializers.CharField(help_text="For people.")
    problems = ProblemSerializer(many=True, required=False, help_text="Refused transactions.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class ValidatorSerializer(serializers.Serializer):
    name = serializers.CharField()
    public_key = serializers.CharField(help_text="Its node key: 64 lowercase hex.")
    region = serializers.CharField()
    url = serializers.CharField(help_text="Where its site answers, as registered.")
    authority = serializers.BooleanField()
    active = serializers.BooleanField(help_text="False for a follower or a validator set inactive.")
    jailed = serializers.BooleanField(
        help_text="Missed jail_after_misses proposals in a row; an authority unjails."
    )
    stake = serializers.IntegerField(help_text="Its account's staked units.")
    reputation_ppm = serializers.IntegerField()
    missed_in_row = serializers.IntegerField()
    missed_total = serializers.IntegerField()
    blocks_proposed = serializers.IntegerField()
    mining = serializers.BooleanField(
        help_text="Whether the proposer draw may pick it (validator_set_mining); one that does not "
        "mine still votes."
    )


class BlockRefSerializer(serializers.Serializer):
    height = serializers.IntegerField()
    hash = serializers.CharField()


class TransactionErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class TransactionStatusSerializer(serializers.Serializer):
    """Fields a status does not have (a pending transaction's block, say) are null."""

    hash = serializers.CharField()
    status = serializers.ChoiceField(choices=["held", "pending", "committed", "dropped"])
    sender = serializers.CharField()
    nonce = serializers.IntegerField()
    kind = serializers.CharField()
    payload = serializers.JSONField(allow_null=True)
    signature = serializers.CharField(allow_null=True)
    received_at = serializers.DateTimeField(allow_null=True)
    block = BlockRefSerializer(allow_null=True)
    position = serializers.IntegerField(allow_null=True)
    ok = serializers.BooleanField(allow_null=True, help_text="Committed: whether it took effect.")
    error = TransactionErrorSerializer(allow_null=True, help_text="Why it failed or was dropped.")


def transaction_status_data(status: str, record) -> dict:
    """The status document of a HeldTx, MempoolTx, ChainTx or DroppedTx (see selectors.transaction_find)."""
    data = {
        "hash": record.hash,
        "status": status,
        "sender": record.sender,
        "nonce": record.nonce,
        "kind": record.kind,
        "payload": None,
        "signature": None,
        "received_at": None,
        "block": None,
        "position": None,
        "ok": None,
        "error": None,
    }
    if status in ("held", "pending", "committed"):
        data.update(payload=record.payload, signature=record.signature, received_at=record.received_at)
    if status == "committed":
        data.update(
            block={"height": record.block.height, "hash": record.block.hash},
            position=record.position,
            ok=record.ok,
        )
        if not record.ok:
            data["error"] = {"code": record.error_code, "message": record.error_message}
    if status == "dropped":
        data["error"] = {"code": record.error_code, "message": record.error_message}
    return data


class ChainTxSerializer(serializers.ModelSerializer):
    block_height = serializers.IntegerField(source="block_id")

    class Meta:
        model = ChainTx
        fields = [
            "hash",
            "block_height",
            "position",
            "sender",
            "nonce",
            "kind",
            "payload",
            "signature",
            "ok",
            "error_code",
            "error_message",
            "received_at",
        ]


class BlockSerializer(serializers.ModelSerializer):
    timestamp = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Block
        fields = [
            "height",
            "hash",
            "previous_hash",
            "timestamp_ms",
            "timestamp",
            "merkle_root",
            "state_root",
            "result_state_root",
            "proposer",
            "round",
            "difficulty",
            "nonce",
            "tx_count",
            "energy",
            "validators_hash",
            "commit_certificate",
        ]


class BlockDetailSerializer(BlockSerializer):
    tx_hashes = serializers.ListField(child=serializers.CharField(), help_text="In block order.")
    transactions = ChainTxSerializer(many=True, required=False, help_text="Only with ?include=transactions.")

    class Meta(BlockSerializer.Meta):
        fields = [*BlockSerializer.Meta.fields, "tx_hashes", "transactions"]


ACCOUNT_STATE_FIELDS = [
    "address",
    "balance",
    "staked",
    "unbonding",
    "unbonding_release_height",
    "escrow_tokens",
    "energy_wh",
    "escrow_wh",
    "nonce",
]


class AccountSerializer(serializers.ModelSerializer):
    pending_count = serializers.IntegerField(help_text="Transactions from it waiting in the mempool.")
    pending_token_debit = serializers.IntegerField(help_text="Most units those may take.")
    next_nonce = serializers.IntegerField(help_text="The nonce its next transaction must carry.")
    available_balance = serializers.IntegerField(help_text="Balance less pending debits.")

    class Meta:
        model = Account
        fields = [
            *ACCOUNT_STATE_FIELDS,
            "pending_count",
            "pending_token_debit",
            "next_nonce",
            "available_balance",
        ]


def account_data(account: Account, pending: dict) -> dict:
    """An account with what its pending transactions mean for its next one."""
    return AccountSerializer(
        {
            **{field: getattr(account, field) for field in ACCOUNT_STATE_FIELDS},
            "pending_count": pending["count"],
            "pending_token_debit": pending["token_debit"],
            "next_nonce": account.nonce + pending["count"],
            "available_balance": account.balance - pending["token_debit"],
        }
    ).data


class MeSerializer(serializers.Serializer):
    """The logged-in user's wallet. The private key is never sent."""

    username = serializers.CharField()
    address = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    region = serializers.CharField()
    account = AccountSerializer(help_text="Zero amounts until the account first receives something.")
