"""Grid pages: the live dashboard, a page per region, the operator's path limit form.

Thin: call grid.selectors / grid.services, render. Everyone may watch the grid
(anonymous too). The operator form is for staff on a site whose node key is
the grid operator's (EGAT); everyone else's POST gets 403, regulators' too.
The dashboard's parts re-fetch themselves (``?part=paths``) when static/js/grid.js
hears of a limit, an alarm or a trade on ws/grid/; figures update from the
stream itself every second.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chain.ledger.errors import Refused
from chain.ledger.fields import whole_number
from grid import selectors
from grid.forms import PathLimitForm
from grid.services import node_is_grid_operator, path_limit_set
from trading.selectors import slots_open

PATHS_EVENT = "grid-paths-changed"
#: Where each demo region sits on the dashboard's schematic map (SVG units, north up).
MAP_POSITIONS = {
    "north": (115, 55),
    "northeast": (225, 125),
    "central": (115, 165),
    "bangkok": (100, 255),
    "east": (215, 265),
    "south": (85, 345),
}
LIMIT_SLOTS = 16
PATH_SLOTS = 5


def _may_limit(request, params: dict) -> bool:
    return request.user.is_authenticated and request.user.is_staff and node_is_grid_operator(params)


def _limit_form(params: dict, paths: list[dict], data=None) -> PathLimitForm:
    return PathLimitForm(data, paths=paths, slots=slots_open(count=LIMIT_SLOTS))


def _slot_choices(params: dict) -> list[int]:
    """The slot being delivered now and the next open ones: whose path use the dashboard shows."""
    slot_ms = selectors.grid_rules(params).slot_ms
    now = selectors.now_ms() // slot_ms * slot_ms
    return [now, *(s for s in slots_open(count=PATH_SLOTS) if s != now)][:PATH_SLOTS]


def _stroke(flow_ppm: int | None) -> float:
    """Line width on the map: 2 idle to 8 at full capacity."""
    return round(2 + 6 * min(flow_ppm or 0, 1_000_000) / 1_000_000, 1)


def _map(regions: list[dict], paths: list[dict]) -> dict:
    """Nodes and lines of the schematic map; a region without a position is left out."""
    nodes = [
        {**r, "x": MAP_POSITIONS[r["id"]][0], "y": MAP_POSITIONS[r["id"]][1]}
        for r in regions
        if r["id"] in MAP_POSITIONS
    ]
    at = {n["id"]: n for n in nodes}
    lines = [
        {
            **p,
            "stroke": _stroke(p["flow_ppm"]),
            "x1": at[p["zone_from"]]["x"],
            "y1": at[p["zone_from"]]["y"],
            "x2": at[p["zone_to"]]["x"],
            "y2": at[p["zone_to"]]["y"],
        }
        for p in paths
        if p["zone_from"] in at and p["zone_to"] in at
    ]
    return {"nodes": nodes, "lines": lines}


def dashboard(request):
    params = selectors.chain_params()
    choices = _slot_choices(params)
    text = request.GET.get("slot", "")
    slot = whole_number(text)
    slot = slot if slot in choices else choices[0]
    paths = selectors.paths_status(slot_ms=slot, params=params)
    context = {
        "paths": paths,
        "alarm": selectors.alarm_active(),
        "paths_event": PATHS_EVENT,
        "slot": slot,
        "slot_choices": choices,
    }
    if request.GET.get("part") == "paths":
        return render(request, "grid/_paths.html", context)
    may_limit = _may_limit(request, params)
    regions = selectors.regions_latest(params)
    context.update(
        map=_map(regions, paths),
        regions=regions,
        figures=selectors.region_figures(regions),
        frequency=selectors.frequency_series(seconds=120),
        rules=selectors.grid_rules(params),
        may_limit=may_limit,
        limit_form=_limit_form(params, paths) if may_limit else None,
    )
    return render(request, "grid/dashboard.html", context)


def region(request, region_id: str):
    params = selectors.chain_params()
    info = selectors.region_info(region_id, params)
    if info is None:
        raise Http404("No such region.")
    info = {**info, "name": gettext(info["name"])}
    minutes = selectors.region_history(region=region_id, resolution_s=60, limit=240)
    seconds = selectors.region_history(region=region_id, resolution_s=1, limit=120)
    paths = [p for p in selectors.paths_status(params=params) if region_id in p["path_id"].split(":")]
    return render(
        request,
        "grid/region.html",
        {
            "region": info,
            "minutes": minutes,
            "recent_minutes": list(reversed(minutes))[:30],
            "seconds_json": [_point(x) for x in seconds],
            "minutes_json": [_point(x) for x in minutes],
            "paths": paths,
            "rules": selectors.grid_rules(params),
        },
    )


def _point(sample) -> dict:
    return {f: getattr(sample, f) for f in selectors.SAMPLE_FIGURES}


@login_required
@require_POST
def path_limit(request):
    params = selectors.chain_params()
    if not _may_limit(request, params):
        raise PermissionDenied("Only staff on the grid operator's site may limit a transmission path.")
    paths = selectors.paths_status(params=params)
    form = _limit_form(params, paths, request.POST)
    if form.is_valid():
        try:
            tx = path_limit_set(**form.limit_kwargs())
        except Refused as exc:
            messages.error(request, gettext("Refused: {message}").format(message=exc.message))
        else:
            messages.success(
                request,
                gettext("Path limit signed and sent (transaction {hash}…).").format(hash=tx.hash[:12]),
            )
    else:
        problems = "; ".join(
            f"{form.fields[f].label if f in form.fields else f}: {' '.join(e)}"
            for f, e in form.errors.items()
        )
        messages.error(request, gettext("Not sent. {problems}").format(problems=problems))
    return redirect("grid")
