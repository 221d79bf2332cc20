"""Meters in the database: demo registration, the REST intake, the staff's registration service."""

import json

import pytest

from chain.ledger.errors import Refused
from chain.ledger.genesis import demo_key
from chain.models import Account, ChainHead, ChainTx
from chain.services.admission import BatchRejected
from meters.ledger import kinds as k
from meters.models import Meter
from meters.services import meter_register, readings_submit
from tests.meters.conftest import last_minute, signed_reading

pytestmark = pytest.mark.django_db


def test_the_demo_meters_are_registered_by_their_utilities(meters):
    by_user = {m.meter_id: m for m in Meter.objects.all()}
    assert len(by_user) == 6
    assert by_user[meters["solar_somchai"]].registered_by == demo_key("MEA").verify_key.encode().hex()
    assert by_user[meters["wind_korat"]].registered_by == demo_key("PEA").verify_key.encode().hex()
    assert Account.objects.filter(address=meters["solar_somchai"], nonce=0, balance=0).exists()


def test_a_signed_reading_over_rest_mints_in_the_next_block(meters, produce, client, users):
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    tx = signed_reading(chain_id, "solar_somchai", start=start, end=end, export_wh=120)
    before = Account.objects.get(address=users["solar_somchai"].wallet.address)
    response = client.post(
        "/api/v1/meters/readings/", json.dumps(tx.to_wire()), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["hashes"] == [tx.hash]
    produce()
    after = Account.objects.get(address=users["solar_somchai"].wallet.address)
    assert after.energy_wh - before.energy_wh == 120
    assert after.balance - before.balance == 120_000
    assert ChainTx.objects.get(hash=tx.hash).ok
    assert Meter.objects.get(meter_id=meters["solar_somchai"]).minted_units_total == 120_000
    detail = client.get(f"/api/v1/meters/{meters['solar_somchai']}/").json()
    assert (detail["readings"], detail["export_wh_total"], detail["last_window_end_ms"]) == (1, 120, end)


def test_a_reading_ahead_of_its_predecessor_is_answered_held_over_rest(
    meters, produce, client, django_capture_on_commit_callbacks
):
    """Held for its predecessor, it may yet be dropped: the answer says held, not pending, as
    /api/v1/transactions/ does (before, pending: a meter took it for admitted)."""
    chain_id = ChainHead.objects.get().chain_id
    start, end = last_minute()
    first = signed_reading(chain_id, "solar_somchai", start=start - 60_000, end=end - 60_000, export_wh=10)
    second = signed_reading(
        chain_id, "solar_somchai", start=start, end=end, export_wh=20, nonce=first.nonce + 1
    )

    def post(tx):
        response = client.post(
            "/api/v1/meters/readings/", json.dumps(tx.to_wire()), content_type="application/json"
        )
        assert response.status_code == 202, response.content
        return response.json()

    assert post(second) == {"accepted": 1, "hashes": [second.hash], "status": "held", "held": [second.hash]}
    with django_capture_on_commit_callbacks(execute=True):  # its successor let out of the hold
        assert post(first) == {"accepted": 1, "hashes": [first.hash], "status": "pending", "held": []}
    produce()
    assert Meter.objects.get(meter_id=meters["solar_somchai"]).export_wh_total == 30


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda chain_id, start, end: {"kind": "transfer"}, "not_a_reading"),
        (
            lambda chain_id, start, end: signed_reading(
                chain_id, "nobody", start=start, end=end, export_wh=1, nonce=0
            ).to_wire(),
            k.UNKNOWN_METER,
        ),
        (
            lambda chain_id, start, end: {
                **signed_reading(chain_id, "solar_somchai", start=start, end=end, export_wh=1).to_wire(),
                "signature": "00" * 64,
            },
            "bad_signature",
        ),
        (
            lambda chain_id, start, end: signed_reading(
                chain_id, "solar_somchai", start=start, end=start, export_wh=1
            ).to_wire(),
            k.BAD_WINDOW,
        ),
    ],
)
def test_the_intake_refuses_with_a_reason_and_admits_nothing(meters, client, make, code):
    chain_id = ChainHead.objects.get().chain_id
    response = client.post(
        "/api/v1/meters/readings/",
        json.dumps(make(chain_id, *last_minute())),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    from chain.models import MempoolTx

    assert not MempoolTx.objects.filter(kind="meter_reading").exists()


def test_a_revoked_meter_is_refused_at_the_intake(meters, produce):
    head = ChainHead.objects.get()
    from chain.ledger.tx import sign_transaction
    from chain.services.admission import transactions_submit
    from chain.services.mempool import next_nonce

    mea = demo_key("MEA")
    revoke = sign_transaction(
        mea,
        chain_id=head.chain_id,
        nonce=next_nonce(mea.verify_key.encode().hex()),
        kind="meter_revoke",
        payload={"meter": meters["home_malee"]},
    )
    transactions_submit([revoke.to_wire()])
    produce()
    start, end = last_minute()
    with pytest.raises(BatchRejected) as refused:
        readings_submit(wires=[signed_reading(head.chain_id, "home_malee", start=start, end=end).to_wire()])
    assert refused.value.code == k.METER_REVOKED


def test_the_site_key_registers_only_where_it_is_an_authority(chain, produce, users, settings, tmp_path):
    owner = users["hydro_nan"].wallet.address
    meter = "7e" * 32
    # The test site's node key is EGAT's, the grid operator: allowed everywhere.
    meter_register(
        key=demo_key("EGAT"), meter=meter, owner=owner, region="north", kind="hydro", rated_capacity_w=5
    )
    produce()
    assert Meter.objects.get(meter_id=meter).registered_by == demo_key("EGAT").verify_key.encode().hex()
    with pytest.raises(Refused) as refused:
        meter_register(
            key=demo_key("MEA"),
            meter="7f" * 32,
            owner=owner,
            region="north",
            kind="hydro",
            rated_capacity_w=5,
        )
    assert refused.value.code == k.NOT_AUTHORITY
