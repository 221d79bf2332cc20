"""REST endpoints of the ledger. Thin: parse, call a service or selector, render.

Reads are public (anyone may audit the chain); /me/ needs a session. Writes are
signed transactions, which carry their own authority, so intake ignores sessions.
"""

import threading

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chain import metrics, selectors
from chain.api import errors
from chain.api.errors import error_response
from chain.api.parsers import StrictJSONParser, json_body
from chain.api.schema import bounded_int, hex64_path
from chain.api.serializers import (
    AccountSerializer,
    BlockDetailSerializer,
    BlockSerializer,
    ChainTxSerializer,
    ErrorSerializer,
    MeSerializer,
    SignedTransactionSerializer,
    SubmitAcceptedSerializer,
    TransactionStatusSerializer,
    ValidatorSerializer,
    account_data,
    transaction_status_data,
)
from chain.api.shed import ROOM_HELD_KEY, note_batch
from chain.api.throttling import TransactionCountThrottle, TransactionIntakeThrottle
from chain.ledger import errors as ledger_errors
from chain.ledger.fields import is_hex64, whole_number
from chain.ledger.keys import is_address
from chain.models import Account
from chain.services.admission import (
    MAX_BATCH,
    MEMPOOL_FULL,
    RETRY_AFTER_SECONDS,
    SENDER_BUSY,
    BatchRejected,
    transactions_submit,
)
from chain.services.scaling import submit_via_shard

EXAMPLE_ADDRESS = "a" * 64
EXAMPLE_TX = {
    "chain_id": "gridtokenx-th-demo-1",
    "sender": "4b8f" + "0" * 60,
    "nonce": 0,
    "kind": "transfer",
    "payload": {"to": EXAMPLE_ADDRESS, "amount": 2_500_000, "memo": "2.5 GTX for solar"},
    "signature": "9c" * 64,
}


def _error(description: str, code: str, message: str, **extra) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(code, value=errors.error_body(code, message, **extra))],
    )


NOT_FOUND = _error("Nothing by that name.", errors.NOT_FOUND, "No block at height 99.")
BAD_QUERY = _error(
    "A query parameter is wrong.", errors.BAD_QUERY, "limit must be a whole number from 1 to 500."
)
LIMIT = bounded_int("limit", 1, 500, "Page size, at most 500; default 50.")
CURSOR = OpenApiParameter("cursor", str, description="From a page's next or previous link.")


class NewestFirst(CursorPagination):
    """Cursor pages stay put while new blocks arrive, unlike offsets.

    A limit that is not 1 to 500, or a cursor this node did not write, is 400 bad_query
    (DRF would quietly use the default size, and answer a bad cursor with 404).
    """

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-height"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        limit = whole_number(raw, max_digits=3)
        if limit is None or not 1 <= limit <= self.max_page_size:
            raise errors.BadQuery(f"limit must be a whole number from 1 to {self.max_page_size}.")
        return limit

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise errors.BadQuery("cursor is not one this node wrote: take it from a page's links.") from None


class AccountHistoryPages(NewestFirst):
    ordering = ("-block_id", "-position")


class PublicRead(APIView):
    """Chain data anyone may audit: no session is read, so none can change the answer."""

    authentication_classes = []
    permission_classes = [AllowAny]


def _valid_hash(value: str) -> bool:
    return is_hex64(value)  # a sha-256 is 64 lowercase hex, like an address


def _bad_hash() -> Response:
    return error_response(
        errors.BAD_HASH, "A hash is 64 lowercase hex characters.", status.HTTP_400_BAD_REQUEST
    )


def submit_accepted(hashes: list[str], held) -> Response:
    """202 for an admitted batch: its hashes, and those of them held for a predecessor nonce
    (``held``), so that a client never takes a held transaction for one in the mempool."""
    held = [h for h in hashes if h in held]
    return Response(
        {"accepted": len(hashes), "hashes": hashes, "status": "held" if held else "pending", "held": held},
        status=status.HTTP_202_ACCEPTED,
    )


class TransactionSubmitView(APIView):
    """Submit one signed transaction (an object) or a batch (a list), admitted whole or not at all."""

    authentication_classes = []  # signed transactions carry their own authority
    parser_classes = [StrictJSONParser]  # documents the media type; json_body reads the body
    throttle_classes = [TransactionIntakeThrottle]

    @extend_schema(
        operation_id="transactions_submit",
        summary="Submit signed transactions",
        description=(
            "One signed transaction (an object) or a batch (a list of at most "
            f"{MAX_BATCH}). The batch is admitted to the mempool whole or not at all: "
            "on refusal `problems` names each bad item by its `index`. "
            "Content-Type must be application/json. Limited per client IP "
            "(GTX_TX_SUBMIT_RATE requests and GTX_TX_SUBMIT_ITEMS_RATE transactions) and "
            "per sender (GTX_MEMPOOL_MAX_PER_SENDER transactions waiting in the mempool). "
            "A nonce ahead of the sender's next one (its predecessor went to another site) is "
            "held, not refused: for GTX_HOLD_SECONDS, at most GTX_HOLD_MAX_PER_SENDER per sender "
            "and that many nonces ahead; it is admitted when the predecessor arrives, else dropped "
            "with `nonce_gap`. Beyond those bounds it is refused with `nonce_gap`."
        ),
        request=PolymorphicProxySerializer(
            component_name="TransactionSubmission",
            serializers=[SignedTransactionSerializer, SignedTransactionSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
        examples=[
            OpenApiExample("One transfer", value=EXAMPLE_TX, request_only=True),
            OpenApiExample("A batch", value=[EXAMPLE_TX, {**EXAMPLE_TX, "nonce": 1}], request_only=True),
        ],
        responses={
            202: OpenApiResponse(
                SubmitAcceptedSerializer,
                description=(
                    "In the mempool, or held for a predecessor nonce sent to another site; poll the "
                    "transaction's status. A 202 ends committed, or dropped with its reason."
                ),
                examples=[
                    OpenApiExample(
                        "Accepted",
                        value={"accepted": 1, "hashes": ["5e" * 32], "status": "pending", "held": []},
                    ),
                    OpenApiExample(
                        "Held for its predecessor",
                        value={"accepted": 1, "hashes": ["5e" * 32], "status": "held", "held": ["5e" * 32]},
                    ),
                ],
            ),
            400: _error(
                "Refused; nothing was admitted.",
                ledger_errors.NONCE_GAP,
                "Transaction 2: Expected nonce 7, got 8.",
                problems=[
                    {
                        "index": 2,
                        "code": "nonce_gap",
                        "message": "Expected nonce 7, got 8.",
                        "expected_nonce": 7,
                    }
                ],
            ),
            413: _error("Body too large.", errors.TOO_LARGE, "The request body is too large."),
            415: _error("Not JSON.", errors.UNSUPPORTED_MEDIA_TYPE, "Send application/json."),
            429: _error(
                "Too many requests or transactions from this IP (`rate_limited`), or a sender "
                "with too many transactions waiting (`sender_busy`); retry after `Retry-After`.",
                errors.RATE_LIMITED,
                "Request was throttled.",
            ),
            503: _error(
                "The mempool is full (`mempool_full`, answered at the door, unread, to a batch "
                "larger than the room intake last measured), or no worker of the batch's intake "
                "shard answered in time or the site holds as many batches as it admits at once "
                "(`intake_busy`); retry after `Retry-After`.",
                MEMPOOL_FULL,
                "The mempool is full (60000 waiting); retry in a few seconds.",
            ),
        },
    )
    def post(self, request):
        # The body is read here rather than by DRF's parsers: a batch of thousands is
        # decoded once by json_body and once by the ledger core, with no per-item serializer.
        body = json_body(request, what="transactions")
        wires = body if isinstance(body, list) else [body]
        note_batch(len(request.body), len(wires))
        per_ip = TransactionCountThrottle()
        if not per_ip.allow_count(request, self, len(wires)):
            self.throttled(request, per_ip.wait())
        try:
            # The door (chain.api.shed) let it in on a measure that it fit, and held its room.
            door_passed = getattr(request, "scope", {}).get(ROOM_HELD_KEY, 0) > 0
            if settings.GTX_SHARDING:
                regions = [r["id"] for r in selectors.chain_head().params.get("regions", [])]
                hashes, held = submit_via_shard(wires, regions, door_passed=door_passed)
            else:
                txs = transactions_submit(wires, hold_gaps=True, door_passed=door_passed)
                hashes, held = [tx.hash for tx in txs], txs.held
        except BatchRejected as exc:
            metrics.intake_counted(refused=len(wires), code=exc.code)
            if exc.retry_later:
                # A full mempool is the site's overload (503); a sender's full share, its own (429).
                busy = exc.code == SENDER_BUSY
                http_status = (
                    status.HTTP_429_TOO_MANY_REQUESTS if busy else status.HTTP_503_SERVICE_UNAVAILABLE
                )
                response = error_response(exc.code, exc.message, http_status, problems=exc.problems)
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return response
            return error_response(exc.code, exc.message, status.HTTP_400_BAD_REQUEST, problems=exc.problems)
        metrics.intake_counted(admitted=len(hashes))
        return submit_accepted(hashes, held)


class TransactionDetailView(PublicRead):
    @extend_schema(
        operation_id="transactions_retrieve",
        summary="A transaction's status",
        description=(
            "held (its nonce is ahead: waiting for its predecessor, GTX_HOLD_SECONDS at most), "
            "pending (in the mempool), committed (in a block, with its receipt) or dropped (left "
            "out of every block, with the reason in `error`; receipts are kept "
            "GTX_DROPPED_RECEIPT_DAYS days)."
        ),
        parameters=[hex64_path("tx_hash", "The transaction's hash: 64 lowercase hex.")],
        responses={
            200: TransactionStatusSerializer,
            400: _error("Malformed hash.", errors.BAD_HASH, "A hash is 64 lowercase hex characters."),
            404: NOT_FOUND,
        },
    )
    def get(self, request, tx_hash: str):
        if not _valid_hash(tx_hash):
            return _bad_hash()
        found = selectors.transaction_find(tx_hash=tx_hash)
        if found is None:
            return error_response(
                errors.NOT_FOUND, "No transaction with that hash on this node.", status.HTTP_404_NOT_FOUND
            )
        return Response(TransactionStatusSerializer(transaction_status_data(*found)).data)


class BlockListView(PublicRead):
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="blocks_list",
        summary="Latest blocks, newest first",
        parameters=[LIMIT, CURSOR],
        responses={200: BlockSerializer(many=True), 400: BAD_QUERY},
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.blocks_newest_first(), request, view=self)
        return paginator.get_paginated_response(BlockSerializer(page, many=True).data)


INCLUDE = OpenApiParameter(
    "include",
    str,
    enum=["transactions"],
    description="`transactions` adds every transaction of the block, in order.",
)


class BlockDetailMixin:
    def block_response(self, request, block):
        if block is None:
            return error_response(errors.NOT_FOUND, "No such block on this node.", status.HTTP_404_NOT_FOUND)
        include = request.query_params.get("include")
        if include not in (None, "transactions"):  # present, it names what to add
            return error_response(
                errors.BAD_QUERY, "include can only be 'transactions'.", status.HTTP_400_BAD_REQUEST
            )
        txs = list(selectors.block_transactions(block=block))
        data = {**BlockSerializer(block).data, "tx_hashes": [tx.hash for tx in txs]}
        if include:
            data["transactions"] = ChainTxSerializer(txs, many=True).data
        return Response(data)


class BlockByHeightView(BlockDetailMixin, PublicRead):
    @extend_schema(
        operation_id="blocks_by_height",
        summary="A block by height",
        parameters=[
            OpenApiParameter("height", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH),
            INCLUDE,
        ],
        responses={200: BlockDetailSerializer, 400: BAD_QUERY, 404: NOT_FOUND},
    )
    def get(self, request, height: int):
        return self.block_response(request, selectors.block_find(height=height))


class BlockByHashView(BlockDetailMixin, PublicRead):
    @extend_schema(
        operation_id="blocks_by_hash",
        summary="A block by hash",
        parameters=[hex64_path("block_hash", "The block's hash: 64 lowercase hex."), INCLUDE],
        responses={
            200: BlockDetailSerializer,
            400: _error(
                "Malformed hash or query.", errors.BAD_HASH, "A hash is 64 lowercase hex characters."
            ),
            404: NOT_FOUND,
        },
    )
    def get(self, request, block_hash: str):
        if not _valid_hash(block_hash):
            return _bad_hash()
        return self.block_response(request, selectors.block_find(block_hash=block_hash))


BAD_ADDRESS = _error(
    "Malformed address.", ledger_errors.BAD_ADDRESS, "An address is 64 lowercase hex characters."
)


def _bad_address() -> Response:
    return error_response(
        ledger_errors.BAD_ADDRESS,
        "An address is 64 lowercase hex characters (an ed25519 public key).",
        status.HTTP_400_BAD_REQUEST,
    )


class AccountDetailView(PublicRead):
    @extend_schema(
        operation_id="accounts_retrieve",
        summary="An account",
        description="Amounts in units (10^-6 token) and Wh, with what its pending transactions hold.",
        parameters=[hex64_path("address", "An address: 64 lowercase hex.")],
        responses={200: AccountSerializer, 400: BAD_ADDRESS, 404: NOT_FOUND},
    )
    def get(self, request, address: str):
        if not is_address(address):
            return _bad_address()
        account = selectors.account_find(address=address)
        if account is None:
            return error_response(
                errors.NOT_FOUND, "No account with that address on this chain.", status.HTTP_404_NOT_FOUND
            )
        return Response(account_data(account, selectors.account_pending(address=address)))


class AccountTransactionsView(PublicRead):
    pagination_class = AccountHistoryPages

    @extend_schema(
        operation_id="accounts_transactions",
        summary="An account's committed transactions, newest first",
        parameters=[hex64_path("address", "An address: 64 lowercase hex."), LIMIT, CURSOR],
        responses={200: ChainTxSerializer(many=True), 400: BAD_ADDRESS},
    )
    def get(self, request, address: str):
        if not is_address(address):
            return _bad_address()
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.account_transactions(address=address), request, view=self
        )
        return paginator.get_paginated_response(ChainTxSerializer(page, many=True).data)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_retrieve",
        summary="The logged-in user's wallet",
        description="Needs a session (log in on the site). Staff without a wallet get 404 no_wallet.",
        responses={
            200: MeSerializer,
            403: _error(
                "Not logged in.", errors.NOT_AUTHENTICATED, "Authentication credentials were not provided."
            ),
            404: _error("No wallet.", errors.NO_WALLET, "This user has no wallet."),
        },
    )
    def get(self, request):
        wallet = getattr(request.user, "wallet", None)
        if wallet is None:
            return error_response(errors.NO_WALLET, "This user has no wallet.", status.HTTP_404_NOT_FOUND)
        # A wallet's account exists on chain only once it first receives something.
        account = selectors.account_find(address=wallet.address) or Account(address=wallet.address)
        pending = selectors.account_pending(address=wallet.address)
        data = {
            "username": request.user.get_username(),
            "address": wallet.address,
            "role": wallet.role,
            "region": wallet.region,
            "account": account_data(account, pending),
        }
        return Response(MeSerializer(data).data)


class StatusView(PublicRead):
    @extend_schema(
        operation_id="status_retrieve",
        summary="This node",
        description="Chain id, height, consensus round and step, last block time, mempool size, peers up; "
        "on a follower, how far behind the validators it is.",
        responses=inline_serializer(
            "NodeStatus",
            {
                "chain_id": serializers.CharField(),
                "node_type": serializers.CharField(),
                "node_address": serializers.CharField(),
                "height": serializers.IntegerField(),
                "round": serializers.IntegerField(),
                "step": serializers.CharField(),
                "last_block_hash": serializers.CharField(),
                "last_block_at": serializers.DateTimeField(allow_null=True),
                "state_root": serializers.CharField(),
                "mempool_size": serializers.IntegerField(),
                "peers": serializers.IntegerField(),
                "peers_up": serializers.IntegerField(),
                "active_validators": serializers.IntegerField(),
                "evidence": serializers.IntegerField(),
                "consensus_metrics": inline_serializer(
                    "ConsensusMetrics",
                    {
                        "active_validators": serializers.IntegerField(),
                        "total_stake": serializers.IntegerField(help_text="Smallest token units."),
                        "average_block_time_ms": serializers.IntegerField(
                            allow_null=True, help_text="Over the last 100 blocks."
                        ),
                        "last_finalized_height": serializers.IntegerField(),
                        "missed_blocks": serializers.IntegerField(),
                        "rounds_completed": serializers.IntegerField(),
                    },
                ),
                "follower": inline_serializer(
                    "FollowerLag",
                    {
                        "validators_height": serializers.IntegerField(
                            help_text="The highest validator head this follower heard of."
                        ),
                        "behind_heights": serializers.IntegerField(),
                        "behind_seconds": serializers.FloatField(
                            allow_null=True,
                            help_text="Block time between this site's head and the validators' "
                            "(null while it holds no block).",
                        ),
                        "heard_at": serializers.DateTimeField(allow_null=True),
                    },
                    allow_null=True,
                    help_text="Only on a follower (node_type follower); null on a validator.",
                ),
            },
        ),
    )
    def get(self, request):
        return Response(selectors.node_status())


class ValidatorListView(PublicRead):
    @extend_schema(
        operation_id="validators_list",
        summary="The validator set at this site's head",
        description="Every registered validator and follower (PROTOCOL.md §8.4) by name: its stake "
        "(units), whether it is an authority, active, jailed, and its record of proposals. "
        "Voting power is the stake of those active, not jailed and staked.",
        responses=ValidatorSerializer(many=True),
    )
    def get(self, request):
        return Response(ValidatorSerializer(selectors.validator_set_rows(), many=True).data)


class SchemaView(SpectacularAPIView):
    """GET /api/v1/schema/: the OpenAPI document, built by one request at a time.

    drf-spectacular loads its extension classes lazily and not thread-safely: two schema
    requests in their own threads at once (Django's ASGI handler gives each sync request
    one) could see a half-loaded class and answer 500. Building it is seconds of CPU, too,
    so requests that arrive meanwhile wait rather than build it again side by side.
    """

    building = threading.Lock()

    def _get_schema_response(self, request):
        with self.building:
            return super()._get_schema_response(request)
