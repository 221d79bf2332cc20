"""What the audit pages show, their filters and exports, and that lists cost the same queries
for more rows."""

import csv
import io
import json
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.services import verification_run, verification_start
from chain.models import Block
from chain.selectors import region_name

pytestmark = pytest.mark.django_db


def queries(client, path) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_a_trade_shows_both_parties_zone_path_fees_and_pending_delivery(login_as, make_trade, users):
    trade = make_trade("solar_somchai", "factory_rayong", kwh=3, price=3_500_000, zone="east")
    body = login_as("erc_auditor").get("/audit/trades/").content.decode()
    row = body.split(f'data-trade="{trade.trade_id}"')[1].split("</tr>")[0]
    assert "solar_somchai" in row and "factory_rayong" in row
    assert region_name(trade.seller_zone) in row and region_name(trade.buyer_zone) in row
    assert "3.000" in row  # kWh traded
    assert "pending" in row  # the slot has not settled
    assert "3.50" in row  # price, GTX/kWh


def test_filters_narrow_the_trades_and_a_bad_filter_says_what_is_wrong(login_as, make_trade, slot):
    make_trade("solar_somchai", "home_malee")
    make_trade("hydro_nan", "factory_rayong")
    client = login_as("erc_auditor")

    def shown(query):
        return client.get(f"/audit/trades/?{query}").content.decode().count('data-trade="')

    assert shown("") == 2
    assert shown("account=home_malee") == 1
    assert shown(f"slot={slot}") == 2 and shown(f"slot={slot + 900_000}") == 0
    assert shown("zone=bangkok") == 2 and shown("zone=south") == 0
    bad = client.get("/audit/trades/?zone=atlantis&slot=soon&account=nobody")
    assert bad.status_code == 400
    for message in (b"zone must be one of", b"Unix milliseconds", b"No account or username"):
        assert message in bad.content


def test_the_trade_list_costs_the_same_queries_for_more_trades(login_as, make_trade):
    client = login_as("erc_auditor")
    make_trade("solar_somchai", "home_malee")
    few = queries(client, "/audit/trades/")
    for buyer in ("factory_rayong", "home_malee", "factory_rayong"):
        make_trade("hydro_nan", buyer)
    assert queries(client, "/audit/trades/") == few
    few_blocks = queries(client, "/audit/blocks/")
    make_trade("wind_korat", "home_malee")
    assert queries(client, "/audit/blocks/") == few_blocks


def test_trades_paginate(login_as, make_trade, monkeypatch):
    from audit import selectors

    for _ in range(3):
        make_trade("solar_somchai", "home_malee")
    monkeypatch.setattr(selectors, "TRADES_PER_PAGE", 2)
    monkeypatch.setitem(selectors.trades_page.__kwdefaults__, "per_page", 2)
    client = login_as("erc_auditor")
    first, second = client.get("/audit/trades/"), client.get("/audit/trades/?page=2")
    assert first.content.count(b'data-trade="') == 2 and second.content.count(b'data-trade="') == 1
    assert b"page=2" in first.content


@pytest.mark.parametrize("chunk", [1, 2000])
def test_the_trade_csv_has_every_trade_with_names(login_as, make_trade, monkeypatch, chunk):
    from audit import views

    monkeypatch.setattr(views, "EXPORT_CHUNK", chunk)
    trades = [
        make_trade("solar_somchai", "home_malee", kwh=2),
        make_trade("hydro_nan", "factory_rayong", kwh=1),
        make_trade("wind_korat", "factory_rayong", kwh=1),
    ]
    response = login_as("admin").get("/audit/trades/export.csv")
    assert response["Content-Type"].startswith("text/csv") and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["trade_id"] for r in rows) == sorted(t.trade_id for t in trades)
    somchai = next(r for r in rows if r["seller_name"] == "solar_somchai")
    assert (somchai["buyer_name"], somchai["energy_wh"], somchai["delivered_wh"]) == (
        "home_malee",
        "2000",
        "pending",
    )


def test_reports_sum_flows_renewable_share_and_carbon_in_integers(login_as, make_trade):
    make_trade("solar_somchai", "home_malee", kwh=4, source="solar")
    make_trade("solar_somchai", "home_malee", kwh=1, source="grid")
    make_trade("hydro_nan", "factory_rayong", kwh=3, zone="east", source="hydro")
    client = login_as("erc_auditor")
    body = client.get("/audit/reports/export.json?period=day").json()
    [period] = body["periods"]
    assert period["traded_wh"] == 8000 and period["renewable_wh"] == 7000
    assert period["renewable_permille"] == 875
    assert period["within_zone_wh"] + period["between_zones_wh"] == 8000
    assert period["carbon_credits_g"] == 0 and period["pending_carbon_g"] > 0  # nothing settled yet
    assert sum(f["energy_wh"] for f in body["flows"]) == 8000
    csv_rows = list(
        csv.DictReader(
            io.StringIO(b"".join(client.get("/audit/reports/export.csv").streaming_content).decode())
        )
    )
    assert [int(r["traded_wh"]) for r in csv_rows] == [8000]
    # Times follow the site's one rule: its zone, with the offset written out.
    [row] = csv_rows
    start = datetime.fromisoformat(row["period_start"])
    assert start.utcoffset() == timezone.localtime().utcoffset() and row["period_start"].endswith("+07:00")
    assert start.timestamp() * 1000 == int(row["period_ms"])  # an integer, as every figure
    assert all(isinstance(p["period_ms"], int) for p in body["periods"] + body["flows"])
    page = client.get("/audit/reports/").content.decode()
    assert 'id="report-data"' in page and "chart.umd.min.js" in page
    assert json.loads(page.split('id="report-data" type="application/json">')[1].split("</script>")[0])


def test_the_blocks_page_marks_a_forged_certificate(login_as, transfers):
    client = login_as("erc_auditor")
    assert client.get("/audit/blocks/").content.decode().count("✓ EGAT") == 3
    block = Block.objects.get(height=2)
    vote = block.commit_certificate[0]
    block.commit_certificate = [{**vote, "signature": "00" * 64}]
    block.save(update_fields=["commit_certificate"])
    body = client.get("/audit/blocks/").content.decode()
    assert body.count("✓ EGAT") == 2 and "✗ EGAT" in body


def test_the_account_page_lists_its_transactions_and_replayed_balances(login_as, users, transfers):
    client = login_as("erc_auditor")
    address = users["home_malee"].wallet.address
    before = client.get(f"/audit/accounts/{address}/").content.decode()
    assert before.count("<td>transfer</td>") == 3
    assert "No replayed balances yet" in before
    run = verification_start(user=users["erc_auditor"], replay=True)
    verification_run(verification_id=run.pk)
    after = client.get(f"/audit/accounts/{address}/").content.decode()
    assert 'id="balance-points"' in after and 'id="balance-chart"' in after
    assert client.get("/audit/accounts/?q=home_malee")["Location"] == f"/audit/accounts/{address}/"
    assert b"No account" in client.get("/audit/accounts/?q=nobody").content


def test_the_verification_page_polls_until_finished(login_as, users, transfers):
    client = login_as("erc_auditor")
    run = verification_start(user=users["erc_auditor"], replay=False)
    waiting = client.get(f"/audit/verify/{run.pk}/?part=progress").content.decode()
    assert 'hx-trigger="every 1s"' in waiting and "Waiting for a worker" in waiting
    verification_run(verification_id=run.pk)
    done = client.get(f"/audit/verify/{run.pk}/?part=progress").content.decode()
    assert "hx-trigger" not in done and "Every block from genesis to #3 holds" in done


def test_the_account_history_includes_the_order_that_filled_its_resting_order(login_as, users, make_trade):
    trade = make_trade("solar_somchai", "home_malee", kwh=1)  # somchai's sell rested; malee's buy took it
    body = (
        login_as("erc_auditor")
        .get(f"/audit/accounts/{users['solar_somchai'].wallet.address}/")
        .content.decode()
    )
    assert trade.buy_order_id[:10] in body and "(filled its order)" in body


def test_the_trade_csv_writes_names_that_look_like_formulas_as_text(login_as, make_trade):
    from django.contrib.auth import get_user_model

    make_trade("solar_somchai", "home_malee")
    # Usernames may start with + - @; a genesis name with anything. A spreadsheet would run these.
    get_user_model().objects.filter(username="solar_somchai").update(username="=HYPERLINK(1)")
    get_user_model().objects.filter(username="home_malee").update(username="@SUM(1+1)")
    response = login_as("erc_auditor").get("/audit/trades/export.csv")
    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert (row["seller_name"], row["buyer_name"]) == ("'=HYPERLINK(1)", "'@SUM(1+1)")
    assert row["energy_wh"].isdigit()  # numbers are left as numbers
