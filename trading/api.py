"""REST reads of the market (placing and cancelling are signed transactions, POSTed to
/api/v1/transactions/ with kinds order_place and order_cancel; see docs/PROTOCOL.md).

Public, like every ledger read: anyone may audit the market. Thin: parse the
query, call a selector, render. Bad queries answer {"error": {"code": "bad_query", ...}}.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chain.api import errors
from chain.api.errors import error_response
from chain.api.schema import SLOT_MS, bounded_int, hex64_path, hex64_query
from chain.api.serializers import ErrorSerializer
from chain.ledger.fields import whole_number
from chain.ledger.keys import is_address
from trading import selectors
from trading.models import Agreement, CallClearing, Order, OrderStatus, Trade


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = [f.name for f in Order._meta.fields]


class TradeSerializer(serializers.ModelSerializer):
    # Plain text so the schema has one enum for buy/sell (the order's side).
    taker_side = serializers.CharField(
        help_text=(
            "buy or sell: the side that arrived and took a resting order; call: a call auction cleared both."
        )
    )

    class Meta:
        model = Trade
        fields = [f.name for f in Trade._meta.fields]


class LevelSerializer(serializers.Serializer):
    price_per_kwh = serializers.IntegerField(help_text="Units (10^-6 token) per kWh.")
    energy_wh = serializers.IntegerField(help_text="Remaining Wh of the open orders at this price.")
    orders = serializers.IntegerField()


class DealSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    side = serializers.CharField(help_text="buy or sell.")
    price_per_kwh = serializers.IntegerField(help_text="Units (10^-6 token) per kWh.")
    remaining_wh = serializers.IntegerField()
    owner = serializers.CharField()
    counterparty = serializers.CharField(help_text="The only account the order trades with.")


class CallClearingSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallClearing
        fields = [f.name for f in CallClearing._meta.fields]


class CallSerializer(serializers.Serializer):
    gate_ms = serializers.IntegerField(help_text="The slot's gate closure, Unix ms: the call clears then.")
    cleared = CallClearingSerializer(
        allow_null=True, help_text="How the call cleared (docs/PROTOCOL.md 12.8); null while it is open."
    )
    indicative_price = serializers.IntegerField(
        allow_null=True,
        help_text="While open: the price the orders waiting now would clear at (0: no bid meets an ask).",
    )
    indicative_wh = serializers.IntegerField(
        allow_null=True, help_text="While open: the Wh that would trade at that price."
    )


class OrderBookSerializer(serializers.Serializer):
    slot_ms = serializers.IntegerField(help_text="Delivery slot start, Unix ms.")
    zone = serializers.CharField(allow_null=True)
    bids = LevelSerializer(many=True, help_text="Best (highest) first; orders anyone may trade with.")
    asks = LevelSerializer(many=True, help_text="Best (lowest) first; orders anyone may trade with.")
    deals = DealSerializer(
        many=True,
        help_text="Open private deals (orders naming their counterparty): asks then bids, best first.",
    )
    call = CallSerializer(
        allow_null=True,
        help_text="With zone, when the zone clears by call auction (or its call for the slot cleared).",
    )


class SlotSummarySerializer(serializers.Serializer):
    slot_ms = serializers.IntegerField()
    bid_wh = serializers.IntegerField()
    bid_orders = serializers.IntegerField()
    ask_wh = serializers.IntegerField()
    ask_orders = serializers.IntegerField()
    traded_wh = serializers.IntegerField()
    trades = serializers.IntegerField()
    last_price_per_kwh = serializers.IntegerField(allow_null=True)


class ZonePriceSerializer(serializers.Serializer):
    zone = serializers.CharField()
    last_price_per_kwh = serializers.IntegerField()
    last_trade_height = serializers.IntegerField()


class OverviewSerializer(serializers.Serializer):
    slots = SlotSummarySerializer(many=True, help_text="The next delivery slots still taking orders.")
    zones = ZonePriceSerializer(many=True, help_text="Last trade price per buyer zone.")


class PricePointSerializer(serializers.Serializer):
    timestamp_ms = serializers.IntegerField()
    price_per_kwh = serializers.IntegerField()
    energy_wh = serializers.IntegerField()


SLOT_HELP = "Delivery slot start, Unix ms (a multiple of the slot length)."
SLOT = OpenApiParameter("slot", SLOT_MS, description=SLOT_HELP)
SLOT_REQUIRED = OpenApiParameter("slot", SLOT_MS, required=True, description=SLOT_HELP)
ZONE = OpenApiParameter("zone", str, description="Region id from genesis, e.g. bangkok.")
ACCOUNT = hex64_query("account", "An address: 64 lowercase hex.")
ACCOUNT_REQUIRED = hex64_query("account", ACCOUNT.description, required=True)
LIMIT = bounded_int("limit", 1, selectors.MAX_LIMIT, f"At most {selectors.MAX_LIMIT}; default 50.")
BAD_QUERY = OpenApiResponse(
    ErrorSerializer,
    description="A query parameter is missing or wrong.",
    examples=[
        OpenApiExample(
            errors.BAD_QUERY, value=errors.error_body(errors.BAD_QUERY, "zone must be one of: bangkok, ...")
        )
    ],
)


class MarketRead(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def int_param(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        raw = self.request.query_params.get(name)
        if raw is None:
            if required:
                raise errors.BadQuery(f"{name} is required.")
            return default
        value = whole_number(raw)
        if value is None:
            raise errors.BadQuery(f"{name} must be a whole number.")
        return value

    def slot_param(self, *, required: bool = False) -> int | None:
        slot = self.int_param("slot", required=required)
        if slot is not None and slot % selectors.market_rules().slot_ms:
            raise errors.BadQuery("slot must be a slot start in Unix ms (a multiple of the slot length).")
        return slot

    def zone_param(self) -> str | None:
        zone = self.request.query_params.get("zone")
        zones = selectors.market_rules().carbon_g_per_kwh
        if zone is not None and zone not in zones:
            raise errors.BadQuery(f"zone must be one of: {', '.join(sorted(zones))}.")
        return zone

    def account_param(self, *, required: bool = False) -> str | None:
        account = self.request.query_params.get("account")
        if account is None and required:
            raise errors.BadQuery("account is required.")
        if account is not None and not is_address(account):
            raise errors.BadQuery("account must be an address: 64 lowercase hex characters.")
        return account

    def limit_param(self) -> int:
        limit = self.int_param("limit", default=50)
        if not 1 <= limit <= selectors.MAX_LIMIT:
            raise errors.BadQuery(f"limit must be from 1 to {selectors.MAX_LIMIT}.")
        return limit


class MarketOverviewView(MarketRead):
    @extend_schema(
        operation_id="market_overview",
        summary="Market overview",
        description="The next delivery slots still taking orders, their open and traded volume, "
        "and the last price per zone.",
        responses={200: OverviewSerializer},
    )
    def get(self, request):
        return Response(OverviewSerializer(selectors.market_overview()).data)


class OrderBookView(MarketRead):
    @extend_schema(
        operation_id="market_order_book",
        summary="Order book depth of a delivery slot",
        description="Open orders aggregated by price level; optionally one zone's only. "
        "Private deals are not in the levels but listed in deals, order by order.",
        parameters=[
            SLOT_REQUIRED,
            ZONE,
            bounded_int("levels", 1, 100, "Price levels per side, 1..100; default 20."),
        ],
        responses={200: OrderBookSerializer, 400: BAD_QUERY},
    )
    def get(self, request):
        slot, zone = self.slot_param(required=True), self.zone_param()
        levels = self.int_param("levels", default=20)
        if not 1 <= levels <= 100:
            raise errors.BadQuery("levels must be from 1 to 100.")
        book = selectors.order_book_depth(slot_ms=slot, zone=zone, levels=levels)
        rules = selectors.market_rules()
        book["call"] = selectors.call_of(slot_ms=slot, zone=zone, rules=rules) if zone else None
        return Response(OrderBookSerializer(book).data)


class TradeListView(MarketRead):
    @extend_schema(
        operation_id="market_trades",
        summary="Trades, newest first",
        description="Filter by delivery slot, zone (either side's) and account (either party).",
        parameters=[SLOT, ZONE, ACCOUNT, LIMIT],
        responses={200: TradeSerializer(many=True), 400: BAD_QUERY},
    )
    def get(self, request):
        trades = selectors.trades_recent(
            slot_ms=self.slot_param(),
            zone=self.zone_param(),
            account=self.account_param(),
            limit=self.limit_param(),
        )
        return Response(TradeSerializer(trades, many=True).data)


class OrderListView(MarketRead):
    @extend_schema(
        operation_id="market_orders",
        summary="Orders of an account, newest first",
        parameters=[
            ACCOUNT_REQUIRED,
            OpenApiParameter(
                "status", str, enum=OrderStatus.values, description="Only orders in this status."
            ),
            LIMIT,
        ],
        responses={200: OrderSerializer(many=True), 400: BAD_QUERY},
    )
    def get(self, request):
        order_status = request.query_params.get("status")
        if order_status is not None and order_status not in OrderStatus.values:
            raise errors.BadQuery(f"status must be one of: {', '.join(OrderStatus.values)}.")
        orders = selectors.orders_of(
            address=self.account_param(required=True), status=order_status, limit=self.limit_param()
        )
        return Response(OrderSerializer(orders, many=True).data)


class AgreementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agreement
        fields = [f.name for f in Agreement._meta.fields]


class AgreementListView(MarketRead):
    @extend_schema(
        operation_id="market_agreements",
        summary="Standing agreements of an account (as seller or buyer), newest first",
        description="The agreement records (docs/PROTOCOL.md 12.9). Offer, accept and end them "
        "with signed agreement_offer, agreement_accept and agreement_end transactions.",
        parameters=[ACCOUNT_REQUIRED, LIMIT],
        responses={200: AgreementSerializer(many=True), 400: BAD_QUERY},
    )
    def get(self, request):
        rows = selectors.agreements_of(address=self.account_param(required=True), limit=self.limit_param())
        return Response(AgreementSerializer(rows, many=True).data)


class OrderDetailView(MarketRead):
    @extend_schema(
        operation_id="market_order",
        summary="One order",
        description="The order's id is the hash of the order_place transaction. "
        "While that transaction waits in the mempool the order is not found here; "
        "GET /api/v1/transactions/{hash}/ says where it is.",
        parameters=[hex64_path("order_id", "The order_place transaction's hash: 64 lowercase hex.")],
        responses={200: OrderSerializer, 404: OpenApiResponse(ErrorSerializer, description="No such order.")},
    )
    def get(self, request, order_id: str):
        order = selectors.order_find(order_id=order_id) if is_address(order_id) else None
        if order is None:
            return error_response(
                errors.NOT_FOUND, "No order with that id on this node.", status.HTTP_404_NOT_FOUND
            )
        return Response(OrderSerializer(order).data)


class PriceSeriesView(MarketRead):
    @extend_schema(
        operation_id="market_prices",
        summary="Trade prices of a delivery slot, oldest first",
        parameters=[SLOT_REQUIRED, ZONE],
        responses={200: PricePointSerializer(many=True), 400: BAD_QUERY},
    )
    def get(self, request):
        points = selectors.price_series(slot_ms=self.slot_param(required=True), zone=self.zone_param())
        return Response(PricePointSerializer(points, many=True).data)


def market_schema_values(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every ``zone`` query parameter takes this chain's zones, every
    ``slot`` a multiple of its slot length (what only the served chain knows)."""
    try:
        rules = selectors.market_rules()
    except Exception:  # no chain yet (the schema generated offline): the static shapes stand
        return result
    zones = sorted(rules.carbon_g_per_kwh)
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter["name"] == "zone":
                    parameter["schema"] = {"type": "string", "enum": zones}
                elif parameter.get("in") == "query" and parameter["name"] == "slot":
                    parameter["schema"] = {**SLOT_MS, "multipleOf": rules.slot_ms}
    return result
