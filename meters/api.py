"""/api/v1/meters/: the meter-facing intake of signed readings, and public reads of the registry.

Meters sign their own readings (the meter is the sender), so the intake needs
no session, like /api/v1/transactions/; it takes meter_reading transactions only
and names an unregistered or revoked meter as such.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chain.api import errors
from chain.api.errors import error_response
from chain.api.parsers import StrictJSONParser, json_body
from chain.api.schema import hex64_path
from chain.api.serializers import ErrorSerializer, SignedTransactionSerializer, SubmitAcceptedSerializer
from chain.api.throttling import TransactionIntakeThrottle
from chain.api.views import submit_accepted
from chain.ledger.keys import is_address
from chain.services.admission import MEMPOOL_FULL, BatchRejected
from meters import selectors
from meters.ledger import kinds as k
from meters.services import readings_submit

EXAMPLE_READING = {
    "chain_id": "gridtokenx-th-demo-1",
    "sender": "9d" * 32,
    "nonce": 0,
    "kind": "meter_reading",
    "payload": {
        "window_start_ms": 1795489200000,
        "window_end_ms": 1795489260000,
        "import_wh": 0,
        "export_wh": 83,
    },
    "signature": "ab" * 64,
}


def _error(description: str, code: str, message: str) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(code, value=errors.error_body(code, message))],
    )


class MeterSerializer(serializers.Serializer):
    meter_id = serializers.CharField(help_text="The meter's public key: the sender of its readings.")
    owner = serializers.CharField()
    region = serializers.CharField()
    kind = serializers.CharField()
    rated_capacity_w = serializers.IntegerField()
    registered_by = serializers.CharField()
    registered_height = serializers.IntegerField()
    revoked_height = serializers.IntegerField(help_text="0 while the meter may report.")
    last_window_end_ms = serializers.IntegerField()
    readings = serializers.IntegerField()
    import_wh_total = serializers.IntegerField()
    export_wh_total = serializers.IntegerField()
    minted_wh_total = serializers.IntegerField()
    minted_units_total = serializers.IntegerField()


class ReadingSubmitView(APIView):
    """Signed meter readings: one (an object) or a batch (a list), admitted whole or not at all."""

    authentication_classes = []  # a reading is signed by its meter
    permission_classes = [AllowAny]
    parser_classes = [StrictJSONParser]
    throttle_classes = [TransactionIntakeThrottle]

    @extend_schema(
        operation_id="meter_readings_submit",
        summary="Submit signed meter readings",
        description=(
            "meter_reading transactions signed by registered meters (docs/METERS.md). Refused "
            "before admission: not a reading (`not_a_reading`), an unregistered sender "
            "(`unknown_meter`), a revoked meter (`meter_revoked`); then as /api/v1/transactions/. "
            "Window, capacity and overlap are checked when the block runs: poll "
            "/api/v1/transactions/{hash}/ for the receipt."
        ),
        request=SignedTransactionSerializer,
        examples=[OpenApiExample("A one-minute reading", value=EXAMPLE_READING, request_only=True)],
        responses={
            202: SubmitAcceptedSerializer,
            400: _error(
                "Refused; nothing was admitted.", k.UNKNOWN_METER, "The sender is not a registered meter."
            ),
            415: _error("Not JSON.", errors.UNSUPPORTED_MEDIA_TYPE, "Send application/json."),
            503: _error("The mempool is full.", MEMPOOL_FULL, "Retry in a few seconds."),
        },
    )
    def post(self, request):
        body = json_body(request, what="readings")
        try:
            txs = readings_submit(wires=body if isinstance(body, list) else [body])
        except BatchRejected as exc:
            if exc.code == MEMPOOL_FULL:
                response = error_response(exc.code, exc.message, status.HTTP_503_SERVICE_UNAVAILABLE)
                response["Retry-After"] = "2"
                return response
            return error_response(exc.code, exc.message, status.HTTP_400_BAD_REQUEST, problems=exc.problems)
        return submit_accepted([tx.hash for tx in txs], txs.held)


class MeterDetailView(APIView):
    """A registered meter: ledger data, public like every account."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="meters_retrieve",
        summary="A registered meter",
        parameters=[hex64_path("meter_id", "The meter's public key: 64 lowercase hex.")],
        responses={
            200: MeterSerializer,
            404: _error("No such meter.", errors.NOT_FOUND, "No meter with this key."),
        },
    )
    def get(self, request, meter_id: str):
        meter = selectors.meter_get(meter_id=meter_id) if is_address(meter_id) else None
        if meter is None:
            return error_response(errors.NOT_FOUND, "No meter with this key.", status.HTTP_404_NOT_FOUND)
        return Response(MeterSerializer(meter).data)
