"""/api/v1/grid/: the same answers for everyone, bad queries refused with the reason."""

import pytest
from django.core.management import call_command

from grid.models import GridSample
from tests.grid.conftest import ROLES

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ROLES)
def test_regions_answer_every_persona_alike(client_as, reported, role):
    body = client_as(role).get("/api/v1/grid/regions/").json()
    assert [r["id"] for r in body["regions"]] == ["bangkok", "central", "north", "northeast", "east", "south"]
    status = body["regions"][0]["status"]
    assert 49_000 < status["frequency_mhz"] < 51_000 and status["load_kw"] > 0
    assert status["height"] == 2
    assert body["alarm"] is None


def test_region_history_per_second_and_per_minute(client_as, reported):
    client = client_as("anonymous")
    seconds = client.get("/api/v1/grid/regions/east/history/?resolution=1").json()
    assert seconds["resolution_s"] == 1 and len(seconds["samples"]) == 2
    assert seconds["samples"][0]["bucket_ms"] < seconds["samples"][1]["bucket_ms"]
    minutes = client.get("/api/v1/grid/regions/east/history/").json()
    assert minutes["resolution_s"] == 60
    assert 1 <= len(minutes["samples"]) <= 2
    assert GridSample.objects.filter(region="east").count() == len(seconds["samples"]) + len(
        minutes["samples"]
    )


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/grid/regions/mars/history/", 404, "unknown_region"),
        ("/api/v1/grid/regions/east/history/?resolution=5", 400, "bad_query"),
        ("/api/v1/grid/regions/east/history/?limit=0", 400, "bad_query"),
        ("/api/v1/grid/regions/east/history/?limit=abc", 400, "bad_query"),
        ("/api/v1/grid/paths/?slot=123", 400, "bad_query"),
    ],
)
def test_bad_queries_are_refused_with_a_reason(client_as, chain, path, status, code):
    response = client_as("anonymous").get(path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def test_paths_show_capacity_flow_and_use(client_as, reported):
    paths = client_as("consumer").get("/api/v1/grid/paths/").json()
    assert len(paths) == 7
    east = next(p for p in paths if p["path_id"] == "bangkok:east")
    assert (east["zone_from"], east["zone_to"], east["nominal_capacity_mw"]) == ("east", "bangkok", 2500)
    assert east["capacity_mw"] == 2500 and not east["congested"] and east["flow_kw"] > 0
    assert east["capacity_wh"] == 2500 * 250_000


def test_the_grid_endpoints_are_in_the_openapi_schema(client_as, chain, tmp_path):
    paths = client_as("anonymous").get("/api/v1/schema/?format=json").json()["paths"]
    for path in ("/api/v1/grid/regions/", "/api/v1/grid/regions/{region_id}/history/", "/api/v1/grid/paths/"):
        assert set(paths[path]) == {"get"}
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "grid_region_history" in out.read_text()
