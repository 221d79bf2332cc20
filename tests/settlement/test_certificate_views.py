"""The holder's certificate pages, the regulator's registry and the monthly statement, on PostgreSQL.

Certificates and trades are written as committed records (chain.store.write_records):
settling a real slot needs meters and a slot's wall-clock time to pass. What the
pages sign is then applied by real blocks (``produce``).
"""

import csv
import hashlib
import io
import time
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from chain.models import ChainTx, MempoolTx
from chain.store import write_records
from meters.ledger.records import SlotEnergy
from meters.models import SlotEnergy as SlotEnergyRow
from settlement.ledger.certificates import CLAIMED, HELD, Certificate, certificate_id_of_trade
from settlement.models import Certificate as CertificateRow
from settlement.selectors import certificate_registry as registry
from trading.ledger.records import Trade

pytestmark = pytest.mark.django_db
TOKEN = 1_000_000


@pytest.fixture
def bought(users):
    """home_malee bought 3 kWh of solar from solar_somchai this month, 2 kWh delivered, and holds its certificate."""
    malee, somchai = users["home_malee"].wallet.address, users["solar_somchai"].wallet.address
    now_ms = int(time.time() * 1000)
    trade = Trade(
        "ab" * 32, 1, 0, now_ms, now_ms, "cd" * 32, "ef" * 32, malee, somchai, "buy", "bangkok", "bangkok",
        "solar", 3_000, 4 * TOKEN, 12 * TOKEN, 300_000, 0, 0, 2_000, 4 * TOKEN, 0, 1,
    )  # fmt: skip
    certificate_id = certificate_id_of_trade(trade.trade_id)
    certificate = Certificate(
        certificate_id,
        certificate_id,
        trade.trade_id,
        malee,
        somchai,
        now_ms,
        "solar",
        "bangkok",
        2_000,
        HELD,
        1,
    )
    # somchai's solar meter exported 2.5 kWh in the slot: 2 delivered to malee, 0.5 left for a producer's certificate.
    energy = SlotEnergy(
        SlotEnergy.id_of(now_ms, somchai), somchai, now_ms, 0, 2_500, 2_500, "solar", "bangkok", 2_000, now_ms
    )
    write_records({"trade": [trade], "certificate": [certificate], "meter_slot_energy": [energy]})
    return certificate


def test_the_holder_claims_a_certificate_once_and_downloads_the_statement(client_as, bought, produce):
    client = client_as("consumer")
    page = client.get(reverse("certificates")).content.decode()
    assert bought.certificate_id in page and "2.000" in page

    response = client.post(
        reverse("certificates-claim"),
        {"certificate_ids": [bought.certificate_id], "beneficiary": "Bang Kachao school"},
    )
    assert response.status_code == 302
    produce()

    row = CertificateRow.objects.get(certificate_id=bought.certificate_id)
    assert (row.status, row.beneficiary, row.wh) == (CLAIMED, "Bang Kachao school", 2_000)
    claim = ChainTx.objects.get(kind="certificate_claim")
    assert "Bang Kachao school" in client.get(reverse("explorer-tx", args=[claim.hash])).content.decode()
    page = client.get(reverse("certificates")).content.decode()
    assert "Bang Kachao school" in page and "No certificate held" in page
    rows = list(csv.reader(io.StringIO(client.get(reverse("certificates-claimed-csv")).content.decode())))
    assert rows[1][:4] == [bought.certificate_id, str(row.claimed_height), "Bang Kachao school", "2000"]
    # Claimed: no longer offered, and a forged second claim is refused by the form, nothing signed.
    again = client.post(
        reverse("certificates-claim"), {"certificate_ids": [bought.certificate_id], "beneficiary": "x"}
    )
    assert again.status_code == 400 and not MempoolTx.objects.filter(kind="certificate_claim").exists()


def test_a_transfer_in_part_splits_the_certificate(client_as, bought, produce, users):
    factory = users["factory_rayong"].wallet.address
    response = client_as("consumer").post(
        reverse("certificates-transfer"),
        {"certificate_id": bought.certificate_id, "to": factory, "wh": "500"},
    )
    assert response.status_code == 302
    produce()
    mine = CertificateRow.objects.get(certificate_id=bought.certificate_id)
    theirs = CertificateRow.objects.get(holder=factory)
    assert (mine.wh, theirs.wh, theirs.origin_id, theirs.status) == (1_500, 500, bought.certificate_id, HELD)
    assert (
        bought.certificate_id[:10]
        not in client_as("other_consumer").get(reverse("certificates")).content.decode()
    )


@pytest.mark.parametrize(
    ("role", "url", "data", "error"),
    [
        ("consumer", "certificates-transfer", {"to": "{factory}", "wh": "2001"}, "less than 2,001"),
        ("consumer", "certificates-transfer", {"to": "{factory}", "wh": "0"}, "greater than or equal to 1"),
        ("consumer", "certificates-transfer", {"to": "{factory}", "wh": "-3"}, "greater than or equal to 1"),
        ("consumer", "certificates-transfer", {"to": "{factory}\n", "wh": "1.5"}, "Enter a whole number"),
        ("consumer", "certificates-transfer", {"to": "nobody", "wh": "1"}, "64 hex characters"),
        ("consumer", "certificates-claim", {"beneficiary": ""}, "This field is required"),
        ("other_consumer", "certificates-transfer", {"to": "{factory}", "wh": "1"}, "Select a valid choice"),
        ("other_consumer", "certificates-claim", {"beneficiary": "me"}, "Select a valid choice"),
    ],
)
def test_bad_forms_are_refused_with_a_reason_and_sign_nothing(
    client_as, bought, users, role, url, data, error
):
    factory = users["factory_rayong"].wallet.address
    form = {key: value.format(factory=factory) for key, value in data.items()}
    form["certificate_ids" if url == "certificates-claim" else "certificate_id"] = bought.certificate_id
    response = client_as(role).post(reverse(url), form)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not MempoolTx.objects.filter(kind__startswith="certificate_").exists()
    assert CertificateRow.objects.get(certificate_id=bought.certificate_id).wh == 2_000


def test_the_regulator_sees_issued_held_and_claimed_reconciled(client_as, bought):
    page = client_as("regulator").get(reverse("audit-certificates")).content.decode()
    # 0.5 kWh of the metered 2.5 kWh waits for its slot: reconciled, and counted as waiting.
    assert "reconciled" in page and bought.certificate_id in page
    assert registry() == {
        "issued_wh": 2_000,
        "held_wh": 2_000,
        "claimed_wh": 0,
        "transferred_wh": 0,
        "to_buyers_wh": 2_000,
        "to_producers_wh": 0,
        "delivered_renewable_wh": 2_000,
        "metered_renewable_wh": 2_500,
        "awaiting_settlement_wh": 500,
        "difference_wh": 0,
    }
    assert (
        client_as("regulator")
        .get(reverse("audit-certificates") + "?status=claimed")
        .content.decode()
        .count("data-certificate=")
        == 0
    )


def test_the_producers_unsold_export_reconciles_and_shows_on_both_pages(client_as, bought, users):
    somchai = users["solar_somchai"].wallet.address
    [energy] = SlotEnergyRow.objects.filter(owner=somchai)
    export_id = hashlib.sha256(b"gtx-certificate-export:unsold").hexdigest()
    unsold = Certificate(
        export_id, export_id, "", somchai, somchai, energy.delivery_slot_ms, "solar", "bangkok", 500, HELD, 2
    )
    settled = SlotEnergy(
        energy.slot_energy_id, somchai, energy.delivery_slot_ms, 0, 2_500, 2_500, "solar", "bangkok", 2_500, 0
    )
    write_records({"certificate": [unsold], "meter_slot_energy": [settled]})
    totals = registry()
    assert (totals["issued_wh"], totals["to_producers_wh"], totals["awaiting_settlement_wh"]) == (
        2_500,
        500,
        0,
    )
    assert totals["difference_wh"] == 0 and totals["transferred_wh"] == 0
    page = client_as("producer").get(reverse("certificates")).content.decode()
    assert export_id[:10] in page and "your unsold export" in page
    # A certificate issued beyond what was metered shows as off, not reconciled.
    write_records({"meter_slot_energy": [replace(settled, renewable_export_wh=2_400)]})
    assert registry()["difference_wh"] == 100
    assert "off by" in client_as("regulator").get(reverse("audit-certificates")).content.decode()


def test_the_monthly_statement_adds_up_the_ledger(client_as, bought, users):
    month = timezone.localtime().strftime("%Y-%m")
    client = client_as("consumer")
    page = client.get(reverse("statement") + f"?month={month}").content.decode()
    assert "1 GTX stands for about 1 baht" in page
    rows = list(
        csv.reader(io.StringIO(client.get(reverse("statement-csv") + f"?month={month}").content.decode()))
    )
    figures = statement_figures(rows)
    # The trade of ``bought``: 3 kWh ordered, 2 delivered at 4 GTX/kWh, 12 paid, 4 refunded, 0.3 wheeling fee.
    assert figures["bought_wh"] == 2_000 and figures["bought_short_wh"] == 1_000
    assert figures["energy_cost"] == 8 * TOKEN and figures["refunds"] == 4 * TOKEN
    assert figures["wheeling_fees"] == 300_000
    assert figures["net"] == -8 * TOKEN - 300_000
    # Against the utility (thai_market.toml): 2 kWh at 4.2 flat, or at the TOU rate of the slot's hour.
    slot = datetime.fromtimestamp(bought.delivery_slot_ms / 1000, ZoneInfo("Asia/Bangkok"))
    peak = slot.weekday() < 5 and 9 <= slot.hour < 22
    assert figures["utility_flat_cost"] == 8_400_000
    assert figures["utility_tou_cost"] == (12_390_800 if peak else 6_068_200)
    assert figures["bought_peak_wh"] == (2_000 if peak else 0)
    assert figures["saved_vs_flat"] == 8_400_000 - 8_300_000
    assert figures["saved_vs_tou"] == figures["utility_tou_cost"] - 8_300_000
    # No meter of malee's reported: no share; somchai metered 2.5 kWh of export, 2 of them sold.
    assert figures["self_sufficiency_ppm"] is None and figures["community_self_consumption_ppm"] == 800_000
    for label in ("Against the utility", "Saved against the flat rate", "Self-sufficiency"):
        assert label in page
    seller = statement_figures(
        csv.reader(
            io.StringIO(
                client_as("producer").get(reverse("statement-csv") + f"?month={month}").content.decode()
            )
        )
    )
    assert seller["earned"] == 8 * TOKEN
    assert (seller["buyback_value"], seller["earned_beyond_buyback"]) == (4_400_000, 3_600_000)
    assert (seller["metered_export_wh"], seller["self_consumption_ppm"]) == (2_500, 800_000)
    earlier = statement_figures(
        csv.reader(io.StringIO(client.get(reverse("statement-csv") + "?month=2020-01").content.decode()))
    )
    assert all(v in (0, None) for k, v in earlier.items() if not k.startswith("tariff_"))


def statement_figures(rows) -> dict:
    """The statement CSV's figures by name: integers, None where there is nothing to divide by."""
    return {row[0]: int(row[1]) if row[1] else None for row in list(rows)[4:]}


def test_a_month_runs_in_the_sites_time_zone():
    from datetime import UTC, datetime

    from settlement.selectors import month_bounds_ms

    start, end = month_bounds_ms(2026, 12)
    assert datetime.fromtimestamp(start / 1000, UTC) == datetime(
        2026, 11, 30, 17, tzinfo=UTC
    )  # Bangkok is UTC+7
    assert datetime.fromtimestamp(end / 1000, UTC) == datetime(2026, 12, 31, 17, tzinfo=UTC)
