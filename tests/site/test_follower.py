"""A follower site, live: the ERC's registered (inactive) validator record runs a site that
follows the chain, serves its own users and forwards their transactions to the validators.

Real sites over HTTP on 127.0.0.1 (daphne, Celery workers and beat each), one network for the
module: EGAT and MEA vote; the ERC follows and is started late, from an empty database, after the
validators made GROWN_HEIGHTS heights (one batch of transfers a block, sent with gtxclient as
soon as the previous block is committed). Then: it caught up and follows, forwards its users'
transactions, and a person who signs up at the follower tops up, buys and sees the fill.
"""

import json
import re
import secrets
import time

import httpx
import pytest

import gtxclient
from chain.consensus.peer_auth import request_headers
from chain.consensus.transport import gossip_envelope
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of, new_signing_key
from chain.ledger.tx import sign_transaction
from chain.management.commands.init import DEMO_PASSWORD
from chain.templatetags.chain_units import kwh
from localnet.network import start_later, start_network, stop_network, wait_for_height
from tests.site.test_browser_two_sites import CHROMIUM_ARGS, SHOTS, sign_up
from trading.forms import parse_kwh

pytestmark = pytest.mark.live

GOSSIP = "/peer/v1/transactions/"
#: Heights the validators make before the follower starts: it catches up by pulling 20 a request.
GROWN_HEIGHTS = 100
#: Senders of the growth transfers, one transaction each a block (their nonces in order).
GROWTH_SENDERS = ("wind_korat", "solar_somchai", "home_malee")
LIVE = 30_000  # ms: generous, two sites decide each block and the follower applies it after
#: The seller's ask (units per kWh) is under the buyer's price, so the buy crosses it.
SELL_PRICE_UNITS = 3_500_000
BUY_PRICE = "4.5"
BUY_ENERGY = "1"


def _grow(site, chain_id: str, heights: int) -> int:
    """Make ``heights`` blocks: a batch of transfers each, the next sent once the previous is
    committed (so every batch is a block of its own). Returns the validators' head height."""
    keys = [gtxclient.Key.demo(name) for name in GROWTH_SENDERS]
    to = gtxclient.Key.demo("factory_rayong").address
    with gtxclient.Site(site.url) as client:
        nonces = [client.next_nonce(key.address) for key in keys]
        for _ in range(heights):
            batch = [
                gtxclient.sign_transaction(
                    key, chain_id=chain_id, nonce=nonce, kind="transfer", payload={"to": to, "amount": 1}
                )
                for key, nonce in zip(keys, nonces, strict=True)
            ]
            client.submit(batch)
            nonces = [n + 1 for n in nonces]
            last = batch[-1].hash
            site.wait_for(
                lambda last=last: (client.transaction(last) or {}).get("status") == "committed",
                timeout=60,
                interval=0.05,
            )
        return client.status()["height"]


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """EGAT and MEA vote and make GROWN_HEIGHTS heights; then the ERC's follower starts from an
    empty database and catches up. Yields (egat, mea, erc, the height made before it started)."""
    sites = start_network(
        tmp_path_factory.mktemp("follower"), ["EGAT", "MEA"], followers=["ERC"], followers_later=True
    )
    egat, mea, erc = sites
    try:
        made = _grow(egat, egat.status()["chain_id"], GROWN_HEIGHTS)
        assert made >= GROWN_HEIGHTS
        start_later(erc)
        wait_for_height([erc], made, timeout=300)
        yield egat, mea, erc, made
    finally:
        stop_network(sites)


def _next_nonce(site, name: str) -> int:
    with gtxclient.Site(site.url) as client:
        return client.next_nonce(address_of(demo_key(name)))


def _transfer(chain_id: str, sender: str, nonce: int, amount: int = 1):
    return sign_transaction(
        demo_key(sender),
        chain_id=chain_id,
        nonce=nonce,
        kind="transfer",
        payload={"to": address_of(demo_key("home_malee")), "amount": amount},
    )


def _committed(site, tx_hash: str) -> bool:
    answer = site.get(f"/api/v1/transactions/{tx_hash}/")
    return answer.status_code == 200 and answer.json().get("status") == "committed"


def _blocks(site, height: int) -> list[tuple]:
    """Hash and state roots of every 20th block up to ``height`` and of the last: each header
    holds its parent's hash, so equal blocks at ``height`` mean an equal chain below it."""
    rows = []
    for h in sorted({*range(1, height + 1, 20), height}):
        block = site.get(f"/api/v1/blocks/{h}/").json()
        rows.append((h, block["hash"], block["state_root"], block["result_state_root"]))
    return rows


def _signed_post(url: str, key, chain_id: str, body: dict) -> httpx.Response:
    content = json.dumps(body).encode()
    headers = request_headers(
        key, method="POST", target=GOSSIP, body=content, chain_id=chain_id, now_ms=time.time_ns() // 10**6
    )
    return httpx.post(
        url + GOSSIP, content=content, headers={"content-type": "application/json", **headers}, timeout=10
    )


def _login(site, username: str) -> httpx.Client:
    client = httpx.Client(base_url=site.url, timeout=30, follow_redirects=True)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    client.post(
        "/accounts/login/",
        data={"username": username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token},
        headers={"referer": site.url + "/accounts/login/"},
    )
    return client


def test_a_late_follower_catches_up_follows_and_forwards_its_users_transactions(network):
    egat, mea, erc, made = network
    chain_id = egat.status()["chain_id"]
    # It caught up: every block it holds is the validators' block, state roots included.
    wait_for_height([erc], made, timeout=120)
    status = erc.status()
    assert status["node_type"] == "follower"
    assert status["node_address"] == erc.public_key
    assert status["state_root"] == egat.status()["state_root"]
    assert _blocks(erc, made) == _blocks(egat, made) == _blocks(mea, made)

    # It follows: blocks committed now reach it (pushed by their proposer, or pulled); at
    # each the validators commit, it is a few heights behind at most.
    behind = []
    for _ in range(10):
        head = _grow(egat, chain_id, 1)
        behind.append(head - erc.status()["height"])
    assert max(behind) <= 3, behind
    tx = _transfer(chain_id, "hydro_nan", _next_nonce(egat, "hydro_nan"))
    assert mea.post("/api/v1/transactions/", json=[tx.to_wire()]).status_code == 202
    erc.wait_for(lambda: _committed(erc, tx.hash), timeout=60)
    # Validators pushed blocks to it (beat's pull is the backstop): daphne logged them.
    assert '"POST /peer/v1/follow/" 200' in (erc.run_dir / "site.log").read_text()

    # A user at the follower: its intake admits the transfer and forwards it to the
    # validators, which commit it; the follower has it final too.
    mine = _transfer(chain_id, "factory_rayong", _next_nonce(erc, "factory_rayong"), amount=7)
    assert erc.post("/api/v1/transactions/", json=[mine.to_wire()]).status_code == 202
    egat.wait_for(lambda: _committed(egat, mine.hash), timeout=120)
    erc.wait_for(lambda: _committed(erc, mine.hash), timeout=60)
    height = egat.status()["height"]
    wait_for_height([erc], height, timeout=60)
    assert _blocks(erc, height) == _blocks(egat, height)
    assert erc.status()["state_root"] == egat.status()["state_root"]

    # Its status says it follows, and how far behind it is.
    lag = erc.wait_for(lambda: (s := erc.status()["follower"]) and s["behind_heights"] == 0 and s, 30)
    assert lag["validators_height"] >= height and lag["behind_seconds"] == 0
    assert egat.status()["follower"] is None
    page = erc.get("/status/").text
    assert "follower" in page and 'data-testid="behind"' in page

    # The validators take gossip from the registered follower, and refuse a stranger's.
    gift = _transfer(chain_id, "hydro_nan", _next_nonce(egat, "hydro_nan"))
    envelope = gossip_envelope(demo_key("ERC"), chain_id, [gift.to_wire()], [gift.hash])
    accepted = _signed_post(egat.url, demo_key("ERC"), chain_id, envelope)
    assert accepted.status_code == 200 and accepted.json()["admitted"] == 1
    stranger = new_signing_key()
    spam = _transfer(chain_id, "hydro_nan", gift.nonce + 1)
    refused = _signed_post(
        egat.url, stranger, chain_id, gossip_envelope(stranger, chain_id, [spam.to_wire()], [spam.hash])
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "unknown_peer"
    egat.wait_for(lambda: _committed(egat, gift.hash), timeout=120)
    assert egat.get(f"/api/v1/transactions/{spam.hash}/").status_code == 404

    # The regulator's audit pages work at the ERC's site.
    auditor = _login(erc, "erc_auditor")
    try:
        for path in ("/audit/", "/audit/blocks/", "/audit/trades/"):
            answer = auditor.get(path)
            assert answer.status_code == 200, path
            assert "/accounts/login/" not in str(answer.url), path
    finally:
        auditor.close()


@pytest.mark.browser
def test_a_person_at_the_follower_tops_up_buys_from_a_seller_at_a_validator_and_sees_the_fill(network):
    """Signed up at the ERC's follower site: the top-up is asked on chain by the follower's node key
    (topup_request takes a follower's record), EGAT's site mints it (the demo's automatic
    confirmation, as under `make run`; its staff's queue is tested in tests/treasury); the buy is forwarded to the
    validators and crosses a sell placed at EGAT's site with gtxclient; the follower's page shows
    the fill, and the follower's state root is the validators' at its head."""
    from playwright.sync_api import expect, sync_playwright

    egat, mea, erc, _made = network
    chain_id = egat.status()["chain_id"]
    SHOTS.mkdir(exist_ok=True)
    username, password = f"newcomer_{secrets.token_hex(3)}", "sun-on-the-roof-42"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = sign_up(browser, erc, username, password)

            # A follower does not issue: its node key asks the issuer on chain.
            page.goto(erc.url + "/treasury/")
            page.fill("#form-topup input[name=amount]", "100")
            page.click("#form-topup button[type=submit]")
            page.wait_for_url("**/treasury/")
            expect(page.locator(".flash-success")).to_contain_text("asked the issuer on chain")
            # The row says it was asked on chain, or already that it was credited when the issuer's
            # block came before the page polled.
            expect(page.locator("#topup-list")).to_contain_text(
                re.compile("asked on chain|credited in block"), timeout=LIVE
            )
            reference = page.locator("#topup-list td.mono").first.inner_text()

            # The demo's automatic confirmation at EGAT's site (the issuer) mints it: no staff click.
            expect(page.locator('#treasury-status [data-balance="tokens"]')).to_contain_text(
                "100.00", timeout=LIVE
            )
            expect(page.locator("#topup-list tr", has_text=reference)).to_contain_text(
                "credited", timeout=LIVE
            )

            # The trading page of the second open slot, at the follower.
            page.goto(erc.url + "/market/trade/")
            chip = page.locator(".chips a[data-slot]").nth(1)
            slot = int(chip.get_attribute("data-slot"))
            chip.click()
            page.wait_for_url("**/market/trade/?slot=*")
            page.wait_for_selector("#live-dot.on", timeout=10_000)

            # A seller at EGAT's site rests a sell in that slot (gtxclient, as an integrator would).
            seller = gtxclient.Key.demo("bkk_community_solar")
            with gtxclient.Network([egat.url, erc.url]) as validators_and_follower:
                at_egat = validators_and_follower.sites[0]
                sell = gtxclient.sign_transaction(
                    seller,
                    chain_id=chain_id,
                    nonce=at_egat.next_nonce(seller.address),
                    kind="order_place",
                    payload={
                        "side": "sell",
                        "energy_wh": 2 * gtxclient.WH_PER_KWH,
                        "price_per_kwh": SELL_PRICE_UNITS,
                        "zone": "bangkok",
                        "delivery_slot": slot,
                        "source": "solar",
                    },
                )
                at_egat.submit(sell)
                assert validators_and_follower.follow(sell.hash, timeout=60).ok
            expect(page.locator("#market-book .book-row.ask").first).to_be_visible(timeout=LIVE)

            page.fill("#id_order-energy_kwh", BUY_ENERGY)
            page.fill("#id_order-price", BUY_PRICE)
            page.click("#order-ticket button[type=submit]")
            expect(page.locator("#order-ticket .flash-success")).to_contain_text("Signed and sent")
            fill = page.locator("#market-fills tr[data-trade]").first
            expect(fill).to_contain_text(kwh(parse_kwh(BUY_ENERGY)), timeout=LIVE)
            page.screenshot(path=str(SHOTS / "follower-newcomer-fill.png"), full_page=True)
        finally:
            browser.close()

    # The follower's state root at its head is the validators' at that height.
    height = egat.status()["height"]
    wait_for_height([erc, mea], height, timeout=60)
    roots = {
        site.name: site.get(f"/api/v1/blocks/{height}/").json()["result_state_root"] for site in network[:3]
    }
    assert len(set(roots.values())) == 1, roots
