"""The meter REST endpoints answer every persona alike: readings carry their meter's signature."""

import json

import pytest
from django.test import Client

from chain.models import ChainHead
from tests.meters.conftest import last_minute, signed_reading

pytestmark = pytest.mark.django_db

PERSONAS = [None, "home_malee", "solar_somchai", "erc_auditor", "admin"]


@pytest.mark.parametrize("who", PERSONAS)
def test_a_meter_record_is_public(login_as, meters, who):
    response = login_as(who).get(f"/api/v1/meters/{meters['wind_korat']}/")
    assert response.status_code == 200 and response.json()["kind"] == "wind"
    assert login_as(who).get(f"/api/v1/meters/{'ab' * 32}/").status_code == 404
    assert login_as(who).get("/api/v1/meters/not-a-key/").status_code == 404


@pytest.mark.parametrize("who", PERSONAS)
def test_the_intake_takes_a_signed_reading_from_anyone_without_csrf(users, meters, who):
    client = Client(enforce_csrf_checks=True)  # a meter has no session and no CSRF token
    if who is not None:
        client.force_login(users[who])
    start, end = last_minute()
    reading = signed_reading(ChainHead.objects.get().chain_id, "hydro_nan", start=start, end=end, export_wh=5)
    response = client.post(
        "/api/v1/meters/readings/", json.dumps(reading.to_wire()), content_type="application/json"
    )
    assert response.status_code == 202
    again = client.post("/api/v1/meters/readings/", "{", content_type="application/json")
    assert again.status_code == 400 and again.json()["error"]["code"] == "malformed_json"
    text = client.post("/api/v1/meters/readings/", "x", content_type="text/plain")
    assert text.status_code == 415
