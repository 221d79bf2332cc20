"""REST reads of the grid: regions, a region's history, transmission paths. Public and read-only.

Reports and path limits are signed transactions, POSTed to /api/v1/transactions/
with kinds grid_report and grid_path_limit (docs/PROTOCOL.md). Bad queries
answer {"error": {"code": "bad_query", ...}}.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chain.api import errors
from chain.api.errors import error_response
from chain.api.schema import SLOT_MS, bounded_int
from chain.api.serializers import ErrorSerializer
from chain.ledger.fields import whole_number
from grid import selectors
from grid.models import GridAlarm, GridSample, PathLimit, RegionStatus


class RegionStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = RegionStatus
        fields = [f.name for f in RegionStatus._meta.fields if f.name != "region"]


class RegionSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    utility = serializers.CharField()
    status = RegionStatusSerializer(
        allow_null=True,
        help_text="The latest report: frequency in mHz, voltage in per-mille of nominal, load and "
        "generation in kW, renewable share in ppm, carbon intensity in g CO2/kWh; null before the first.",
    )


class AlarmSerializer(serializers.ModelSerializer):
    class Meta:
        model = GridAlarm
        fields = ["active", "region", "frequency_mhz", "since_ms", "paused_until_slot_ms", "height"]


class RegionsSerializer(serializers.Serializer):
    regions = RegionSerializer(many=True)
    alarm = AlarmSerializer(
        allow_null=True, help_text="Set while some region's frequency is out of band: cross-zone fills pause."
    )


class SampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = GridSample
        fields = [
            f.name for f in GridSample._meta.fields if f.name not in ("sample_id", "region", "resolution_s")
        ]


class HistorySerializer(serializers.Serializer):
    region = serializers.CharField()
    resolution_s = serializers.IntegerField(help_text="1 (the last five minutes) or 60 (the last day).")
    samples = SampleSerializer(many=True, help_text="Oldest first.")


class PathLimitSerializer(serializers.ModelSerializer):
    class Meta:
        model = PathLimit
        fields = ["congested", "capacity_mw", "from_slot_ms", "until_slot_ms", "height", "reason"]


class PathSerializer(serializers.Serializer):
    path_id = serializers.CharField(help_text="The two zones, sorted, joined by ':'.")
    zone_from = serializers.CharField()
    zone_to = serializers.CharField()
    nominal_capacity_mw = serializers.IntegerField()
    capacity_mw = serializers.IntegerField(
        help_text="What the slot may use after the operator's limit and the pause."
    )
    wheeling_fee_per_kwh = serializers.IntegerField(help_text="Units (10^-6 token) per kWh.")
    slot_ms = serializers.IntegerField(help_text="The delivery slot these figures are of.")
    used_wh = serializers.IntegerField(help_text="Energy the market scheduled over the path in the slot.")
    capacity_wh = serializers.IntegerField(help_text="capacity_mw over the slot, in Wh.")
    used_ppm = serializers.IntegerField(
        help_text="used_wh / capacity_wh in ppm (1000000 when capacity is 0)."
    )
    flow_kw = serializers.IntegerField(
        allow_null=True, help_text="Latest reported flow, positive from zone_from to zone_to."
    )
    flow_ppm = serializers.IntegerField(allow_null=True, help_text="|flow| over nominal capacity, ppm.")
    congested = serializers.BooleanField(help_text="The operator marked the path congested for this slot.")
    limited = serializers.BooleanField(help_text="An operator limit applies to this slot.")
    paused = serializers.BooleanField(
        help_text="Cross-zone fills of this slot are paused by the frequency alarm."
    )
    limit = PathLimitSerializer(
        allow_null=True, help_text="The path's last operator limit, whatever its slots."
    )


BAD_QUERY = OpenApiResponse(ErrorSerializer, description="A query parameter is wrong.")


class GridRead(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def int_param(self, name: str, default: int) -> int:
        raw = self.request.query_params.get(name)
        if raw is None:
            return default
        value = whole_number(raw)
        if value is None:
            raise errors.BadQuery(f"{name} must be a whole number.")
        return value


class RegionListView(GridRead):
    @extend_schema(
        operation_id="grid_regions",
        summary="Latest grid figures of every region",
        description="Frequency, voltage, load, generation, renewable share and carbon intensity per region, "
        "as the last authority report said, and the frequency alarm if one is active.",
        responses={200: RegionsSerializer},
    )
    def get(self, request):
        return Response(
            RegionsSerializer({"regions": selectors.regions_latest(), "alarm": selectors.alarm_active()}).data
        )


class RegionHistoryView(GridRead):
    @extend_schema(
        operation_id="grid_region_history",
        summary="A region's grid history",
        description="Per-second samples of the last five minutes (resolution=1) or per-minute samples of the "
        "last day (resolution=60, the default), oldest first. A per-minute sample carries the minute's "
        "lowest and highest frequency.",
        parameters=[
            OpenApiParameter("resolution", int, enum=[1, 60], description="1 or 60 (seconds); default 60."),
            bounded_int(
                "limit", 1, selectors.MAX_HISTORY, f"Samples, 1..{selectors.MAX_HISTORY}; default 240."
            ),
        ],
        responses={200: HistorySerializer, 400: BAD_QUERY, 404: OpenApiResponse(ErrorSerializer)},
    )
    def get(self, request, region_id: str):
        if selectors.region_info(region_id) is None:
            return error_response(
                "unknown_region", "There is no region with this id.", status.HTTP_404_NOT_FOUND
            )
        resolution = self.int_param("resolution", 60)
        if resolution not in (1, 60):
            raise errors.BadQuery("resolution must be 1 or 60.")
        limit = self.int_param("limit", 240)
        if not 1 <= limit <= selectors.MAX_HISTORY:
            raise errors.BadQuery(f"limit must be from 1 to {selectors.MAX_HISTORY}.")
        samples = selectors.region_history(region=region_id, resolution_s=resolution, limit=limit)
        return Response(
            HistorySerializer({"region": region_id, "resolution_s": resolution, "samples": samples}).data
        )


class PathListView(GridRead):
    @extend_schema(
        operation_id="grid_paths",
        summary="Transmission paths: capacity, limits, flow and the market's use",
        description="For one delivery slot (default: the slot being delivered now): each path's capacity "
        "after the grid operator's limit and the frequency pause, the energy the market scheduled over it, "
        "and the latest reported flow.",
        parameters=[OpenApiParameter("slot", SLOT_MS, description="Delivery slot start, Unix ms.")],
        responses={200: PathSerializer(many=True), 400: BAD_QUERY},
    )
    def get(self, request):
        params = selectors.chain_params()
        slot = self.request.query_params.get("slot")
        slot_ms = None
        if slot is not None:
            slot_ms = self.int_param("slot", 0)
            if slot_ms % selectors.grid_rules(params).slot_ms:
                raise errors.BadQuery("slot must be a slot start in Unix ms (a multiple of the slot length).")
        return Response(
            PathSerializer(selectors.paths_status(slot_ms=slot_ms, params=params), many=True).data
        )
