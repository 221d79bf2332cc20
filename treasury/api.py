"""/api/v1/treasury/: REST reads of top-ups and cash-outs (asking and answering are pages and
signed transactions; see docs/API.md).

A holder reads their own requests (session); the issuer's queue and the supply totals are
read by those who read everything (staff, regulators), as the pages are. Thin: parse,
authorise, call a selector, render.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chain.api import errors
from chain.api.errors import error_response
from chain.api.schema import bounded_int
from chain.api.serializers import ErrorSerializer
from chain.ledger.fields import whole_number
from chain.views.access import reads_everything
from treasury import selectors
from treasury.models import CashOut, TopUp, TopUpRequest

MAX_LIMIT = 200
LIMIT = bounded_int("limit", 1, MAX_LIMIT, f"At most {MAX_LIMIT}; default 50.")
NOT_LOGGED_IN = OpenApiResponse(ErrorSerializer, description="Not logged in (not_authenticated).")
NO_WALLET = OpenApiResponse(ErrorSerializer, description="This user has no wallet (no_wallet).")
READERS_ONLY = OpenApiResponse(
    ErrorSerializer, description="Not logged in, or not staff or a regulator (permission_denied)."
)
BAD_QUERY = OpenApiResponse(ErrorSerializer, description="A query parameter is wrong (bad_query).")


class TopUpSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", help_text="Who asked.")
    credited_height = serializers.IntegerField(
        help_text="The block whose token_mint credited it; 0 until then.", default=0
    )

    class Meta:
        model = TopUpRequest
        fields = [
            "reference",
            "username",
            "address",
            "amount",
            "status",
            "reason",
            "mint_tx_hash",
            "credited_height",
            "created_at",
            "decided_at",
        ]


class CashOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = CashOut
        fields = [f.name for f in CashOut._meta.fields]


class QueuedCashOutSerializer(CashOutSerializer):
    answer_waiting = serializers.BooleanField(help_text="A burn or release is waiting for its block.")

    class Meta(CashOutSerializer.Meta):
        fields = [*CashOutSerializer.Meta.fields, "answer_waiting"]


class MyCashOutsSerializer(serializers.Serializer):
    waiting_amounts = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Units of cashout_request transactions still in the mempool.",
    )
    cashouts = CashOutSerializer(many=True)


class AskedTopUpSerializer(serializers.ModelSerializer):
    answer_waiting = serializers.BooleanField(help_text="A mint or refusal is waiting for its block.")
    site_name = serializers.CharField(help_text="The name of the validator whose site asked.")

    class Meta:
        model = TopUp
        fields = [*(f.name for f in TopUp._meta.fields), "answer_waiting", "site_name"]


class QueueSerializer(serializers.Serializer):
    topups = TopUpSerializer(
        many=True, help_text="Top-ups asked at this site, waiting for the issuer, oldest first."
    )
    asked_topups = AskedTopUpSerializer(
        many=True, help_text="Top-ups asked on chain by sites that do not issue (topup_request), still open."
    )
    cashouts = QueuedCashOutSerializer(
        many=True, help_text="Open cash-outs (tokens in escrow), oldest first."
    )


class TotalsSerializer(serializers.Serializer):
    minted = serializers.IntegerField(help_text="Units minted by every token_mint.")
    mints = serializers.IntegerField()
    burned = serializers.IntegerField(help_text="Units burnt by every token_burn.")
    burns = serializers.IntegerField()
    genesis = serializers.IntegerField(help_text="Units that existed before block 1.")
    meter_rewards = serializers.IntegerField(help_text="Units minted for verified renewable export.")
    slashed = serializers.IntegerField()
    cashout_escrow = serializers.IntegerField(help_text="Units held by open cash-outs.")
    supply = serializers.IntegerField(help_text="Total supply at the head.")
    expected = serializers.IntegerField(help_text="genesis + minted - burned + meter_rewards - slashed.")
    difference = serializers.IntegerField(help_text="supply - expected: 0 on a sound chain.")


class ReadsEverything(BasePermission):
    """Staff and regulators (chain.views.access.reads_everything), as the issuer's queue page."""

    message = "Only staff and regulators read the issuer's queue and the supply totals."

    def has_permission(self, request, view) -> bool:
        return reads_everything(request.user)


def _limit(request) -> int:
    limit = whole_number(request.query_params.get("limit", "50"))
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise errors.BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return limit


def _no_wallet() -> Response:
    return error_response(errors.NO_WALLET, "This user has no wallet.", status.HTTP_404_NOT_FOUND)


class MyTopUpsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="treasury_my_topups",
        summary="The logged-in user's top-up requests, newest first",
        description="Needs a session. `credited_height` is the block of the mint once it is in one.",
        parameters=[LIMIT],
        responses={200: TopUpSerializer(many=True), 400: BAD_QUERY, 403: NOT_LOGGED_IN, 404: NO_WALLET},
    )
    def get(self, request):
        if getattr(request.user, "wallet", None) is None:
            return _no_wallet()
        topups = selectors.topups_of(user=request.user, limit=_limit(request))
        return Response(TopUpSerializer(topups, many=True).data)


class MyCashOutsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="treasury_my_cashouts",
        summary="The logged-in user's cash-outs, newest first, and those still waiting for a block",
        parameters=[LIMIT],
        responses={200: MyCashOutsSerializer, 400: BAD_QUERY, 403: NOT_LOGGED_IN, 404: NO_WALLET},
    )
    def get(self, request):
        wallet = getattr(request.user, "wallet", None)
        if wallet is None:
            return _no_wallet()
        data = {
            "waiting_amounts": selectors.cashout_requests_waiting(address=wallet.address),
            "cashouts": selectors.cashouts_of(address=wallet.address, limit=_limit(request)),
        }
        return Response(MyCashOutsSerializer(data).data)


class QueueView(APIView):
    permission_classes = [ReadsEverything]

    @extend_schema(
        operation_id="treasury_queue",
        summary="The issuer's queue: top-ups and cash-outs waiting for an answer",
        description="Staff and regulators (session). Answering is the issuer's staff's, on the queue page.",
        responses={200: QueueSerializer, 403: READERS_ONLY},
    )
    def get(self, request):
        data = {
            "topups": selectors.topup_queue(),
            "asked_topups": selectors.topups_asked_queue(),
            "cashouts": selectors.cashout_queue(),
        }
        return Response(QueueSerializer(data).data)


class TotalsView(APIView):
    permission_classes = [ReadsEverything]

    @extend_schema(
        operation_id="treasury_totals",
        summary="Supply against where it came from: genesis, mints, burns, meter rewards, slashes",
        description="Staff and regulators (session). `difference` is 0 on a sound chain.",
        responses={200: TotalsSerializer, 403: READERS_ONLY},
    )
    def get(self, request):
        return Response(TotalsSerializer(selectors.supply_reconciliation()).data)
