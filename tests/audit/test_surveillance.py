"""Surveillance finds planted wash trades, self-dealing, a price outlier and a cancel burst,
in a chain built block by block in the database; the clean trades are not flagged."""

import pytest
from django.contrib.auth import get_user_model

from audit import selectors
from audit.ledger import surveillance as s
from tests.trading.harness import buy, sell
from trading import selectors as market
from trading.models import Trade
from trading.services import order_cancel, order_place

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted(users, produce):
    """Six trades in one slot (each its own pair of blocks, so the book is empty between them),
    then wind_korat places and cancels five orders at once and hydro_nan cancels one."""
    slot, later_slot = market.slots_open(count=3)[1:3]
    User = get_user_model()
    # One owner behind two accounts: the same e-mail on both logins.
    User.objects.filter(username__in=["bkk_community_solar", "factory_rayong"]).update(
        email="Owner@Example.com"
    )

    def trade(seller, buyer, kwh, price):
        order_place(wallet=users[seller].wallet, **sell(slot, kwh=kwh, price=price, source="solar"))
        produce()
        order_place(wallet=users[buyer].wallet, **buy(slot, kwh=kwh, price=price))
        produce()
        return Trade.objects.get(
            seller=users[seller].wallet.address, buyer=users[buyer].wallet.address, price_per_kwh=price
        )

    trades = {
        "clean_a": trade("solar_somchai", "home_malee", 10, 3_500_000),
        "wash_out": trade("wind_korat", "hydro_nan", 5, 3_600_000),
        "wash_back": trade("hydro_nan", "wind_korat", 5, 3_600_000),
        "same_owner": trade("bkk_community_solar", "factory_rayong", 4, 3_400_000),
        "clean_e": trade("solar_somchai", "factory_rayong", 2, 3_500_000),
        "outlier": trade("solar_somchai", "home_malee", 1, 15_000_000),
    }
    burst = [
        order_place(
            wallet=users["wind_korat"].wallet, **sell(later_slot, kwh=1, price=19_000_000, source="wind")
        )
        for _ in range(5)
    ]
    single = order_place(
        wallet=users["hydro_nan"].wallet, **sell(later_slot, kwh=1, price=19_000_000, source="hydro")
    )
    produce()
    for placed in burst:
        order_cancel(wallet=users["wind_korat"].wallet, order_id=placed.hash)
    order_cancel(wallet=users["hydro_nan"].wallet, order_id=single.hash)
    produce()
    return {"trades": {k: t.trade_id for k, t in trades.items()}, "burst": [p.hash for p in burst]}


def by_rule(findings):
    found = {}
    for f in findings:
        found.setdefault(f.rule, []).append(f)
    return found


def test_planted_manipulation_is_found_and_clean_trades_are_not(users, planted):
    trades = planted["trades"]
    found = by_rule(selectors.surveillance_findings())

    [wash] = found[s.WASH]
    assert set(wash.trade_ids) == {trades["wash_out"], trades["wash_back"]}
    assert set(wash.accounts) == {users["wind_korat"].wallet.address, users["hydro_nan"].wallet.address}

    [same_owner] = found[s.SELF_DEALING]
    assert same_owner.trade_ids == (trades["same_owner"],)
    assert "one owner" in same_owner.summary

    [outlier] = found[s.PRICE_OUTLIER]
    assert outlier.trade_ids == (trades["outlier"],)

    [burst] = found[s.CANCEL_BURST]
    assert burst.accounts == (users["wind_korat"].wallet.address,)
    assert set(burst.order_ids) == set(planted["burst"])

    flagged = {t for f in selectors.surveillance_findings() for t in f.trade_ids}
    assert trades["clean_a"] not in flagged and trades["clean_e"] not in flagged


def test_the_surveillance_page_links_each_finding_to_its_trades(login_as, planted):
    body = login_as("erc_auditor").get("/audit/surveillance/").content.decode()
    for trade_id in (planted["trades"]["wash_out"], planted["trades"]["outlier"]):
        assert f'data-trade-link="{trade_id}"' in body
    assert body.count('class="finding ') == 4
