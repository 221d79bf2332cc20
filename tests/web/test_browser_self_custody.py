"""Self-custody in a real browser: the key is made and kept in chromium, which signs what it sends.

A person signs up keeping their own key and saves it as an encrypted key file (the site's
backup format, which Python opens here), gets tokens from a demo account (signed here in
Python, sent over the REST API as any client would) and sends some, signed in the browser
(static/js/self_custody.js). In a second browser with no key they load a backup that
Python wrote, then place an order and cancel it there. Each transaction is followed on the
page from pending to included. The site's database never holds the key.
"""

import secrets
from pathlib import Path

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.services import key_backup
from tests.web.test_browser_wallet import CHROMIUM_ARGS, SHOTS

pytestmark = [pytest.mark.live, pytest.mark.browser]
TOKEN = 1_000_000
PASSWORD = "sun-on-the-roof-42"
PASSPHRASE = "a passphrase for my key file"


def committed(site, tx_hash: str, timeout: float = 60) -> dict:
    return site.wait_for(
        lambda: (
            (doc := site.get(f"/api/v1/transactions/{tx_hash}/").json())["status"] in ("committed", "dropped")
            and doc
        ),
        timeout=timeout,
    )


def fund(site, address: str, amount: int) -> None:
    """home_malee, a demo account whose key is public, sends ``amount`` to ``address``."""
    key = demo_key("home_malee")
    chain_id = site.get("/api/v1/status/").json()["chain_id"]
    nonce = site.get(f"/api/v1/accounts/{address_of(key)}/").json()["next_nonce"]
    tx = sign_transaction(
        key, chain_id=chain_id, nonce=nonce, kind="transfer", payload={"to": address, "amount": amount}
    )
    assert site.post("/api/v1/transactions/", json=tx.to_wire()).status_code == 202
    assert committed(site, tx.hash)["ok"]


def test_a_transaction_signed_in_the_browser_is_accepted_and_final(live_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    username = f"keeper-{secrets.token_hex(3)}"
    somchai = address_of(demo_key("solar_somchai"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(live_site.url + "/accounts/signup/self-custody/")
            expect(page.locator("#self-custody-submit")).to_be_enabled()
            address = page.input_value("input[name=address]")
            assert len(address) == 64
            page.fill("#id_username", username)
            page.fill("#id_password1", PASSWORD)
            page.fill("#id_password2", PASSWORD)
            page.check("input[name=role][value=consumer]")
            page.select_option("#id_region", "bangkok")
            page.screenshot(path=SHOTS / "web-self-custody-signup.png", full_page=True)
            page.click("#self-custody-submit")
            page.wait_for_url("**/wallet/")
            expect(page.locator("#sc-key-status")).to_contain_text("This browser holds your key (IndexedDB)")
            seed_hex = page.evaluate(
                """() => new Promise((resolve) => {
                  const open = indexedDB.open("gridtokenx", 1);
                  open.onsuccess = () => {
                    const get = open.result.transaction("keys").objectStore("keys").get(arguments[0]);
                    get.onsuccess = () => resolve(get.result);
                  };
                })""".replace("arguments[0]", repr(address))
            )
            # The key the browser keeps is the address's, and the site was never sent it.
            from nacl.signing import SigningKey

            assert address_of(SigningKey(bytes.fromhex(seed_hex))) == address
            assert seed_hex not in page.content()

            # The key file the browser saves is the site's backup format: Python opens it.
            page.fill("#sc-save-passphrase", PASSPHRASE)
            with page.expect_download(timeout=60_000) as saved:
                page.click("#sc-key-save")
            raw = Path(saved.value.path()).read_bytes()
            parsed = key_backup.backup_parse(raw)
            assert parsed["address"] == address
            assert key_backup.backup_open(parsed, passphrase=PASSPHRASE).hex() == seed_hex
            assert seed_hex not in raw.decode()

            fund(live_site, address, 1_100 * TOKEN)  # a proposal needs 1,000 staked (thai_market.toml)
            page.reload()
            expect(page.locator("#sc-transfer button[type=submit]")).to_be_enabled()

            # A transfer, signed here.
            page.fill("#sc-transfer-to", somchai)
            page.fill("#sc-transfer-amount", "2.5")
            # A memo the transfer kind refuses (DEL is a control character): the site's reason shows.
            page.fill("#sc-transfer-memo", "bill \x7f")
            page.click("#sc-transfer button[type=submit]")
            expect(page.locator("#sc-transfer [data-error]")).to_contain_text("memo must be text")
            expect(page.locator("#sc-submitted-list li")).to_have_count(0)
            page.fill("#sc-transfer-memo", 'ค่าไฟ "June" \\ 😀')  # Thai, quotes, backslash, above U+FFFF
            page.click("#sc-transfer button[type=submit]")
            first = page.locator("#sc-submitted-list li").first
            expect(first).to_contain_text("transfer of 2.5 tokens")
            expect(first).to_have_attribute("data-state", "included", timeout=60_000)
            transfer = committed(live_site, first.get_attribute("data-hash"))
            assert (transfer["status"], transfer["ok"], transfer["sender"]) == ("committed", True, address)
            assert transfer["payload"] == {"to": somchai, "amount": 2_500_000, "memo": 'ค่าไฟ "June" \\ 😀'}

            # A second browser, with nothing stored: it loads a key file Python wrote.
            other = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            page = other.new_page()
            page.goto(live_site.url + "/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url("**/wallet/")
            expect(page.locator("#sc-key-status")).to_contain_text("does not hold the key")
            expect(page.locator("#sc-transfer button[type=submit]")).to_be_disabled()
            backup_file = Path(saved.value.path()).with_name("from-python.json")
            backup_file.write_bytes(
                key_backup.backup_encode(seed=bytes.fromhex(seed_hex), address=address, passphrase=PASSPHRASE)
            )
            page.set_input_files("#sc-key-file", str(backup_file))
            page.fill("#sc-load-passphrase", "not the passphrase")
            page.click("#sc-key-load-button")
            expect(page.locator("#sc-key-error")).to_contain_text("does not open this backup", timeout=60_000)
            page.fill("#sc-load-passphrase", PASSPHRASE)
            page.click("#sc-key-load-button")
            expect(page.locator("#sc-key-status")).to_contain_text(
                "This browser holds your key", timeout=60_000
            )

            # An order at the lowest price (nothing sells that cheap), then its cancel.
            page.select_option("#sc-order-side", "buy")
            page.fill("#sc-order-energy", "1.5")
            page.fill("#sc-order-price", "1")
            page.click("#sc-order button[type=submit]")
            order_item = page.locator("#sc-submitted-list li").first
            expect(order_item).to_contain_text("buy order of 1.5 kWh")
            expect(order_item).to_have_attribute("data-state", "included", timeout=60_000)
            order_id = order_item.get_attribute("data-hash")
            order = live_site.get(f"/api/v1/market/orders/{order_id}/").json()
            assert (order["owner"], order["energy_wh"], order["status"]) == (address, 1500, "open")
            cancel_button = page.locator(f'#sc-orders-list li[data-order-id="{order_id}"] button')
            expect(cancel_button).to_be_enabled()
            page.screenshot(path=SHOTS / "web-self-custody-wallet-phone.png", full_page=True)
            cancel_button.click()
            cancel_item = page.locator("#sc-submitted-list li").first
            expect(cancel_item).to_contain_text("cancel of " + order_id[:8])
            expect(cancel_item).to_have_attribute("data-state", "included", timeout=60_000)
            assert live_site.get(f"/api/v1/market/orders/{order_id}/").json()["status"] == "cancelled"

            # Stake, a proposal, a vote on it and a cash-out: every one signed in this browser.
            def sent(form: str, label: str):
                page.click(f"#{form} button[type=submit]")
                item = page.locator("#sc-submitted-list li").first
                expect(item).to_contain_text(label)
                expect(item).to_have_attribute("data-state", "included", timeout=60_000)
                return committed(live_site, item.get_attribute("data-hash"))

            page.select_option("#sc-stake-kind", "stake_bond")
            page.fill("#sc-stake-amount", "1000")
            assert sent("sc-stake", "bond of 1000 tokens")["kind"] == "stake_bond"
            page.fill("#sc-propose-title", "Keep the market open at night")
            proposal_tx = sent("sc-propose", "proposal \u201cKeep the market open at night\u201d")
            assert (proposal_tx["kind"], proposal_tx["ok"], proposal_tx["sender"]) == (
                "governance_propose",
                True,
                address,
            )
            [proposal] = [
                p
                for p in live_site.get("/api/v1/governance/proposals/?status=open").json()
                if p["proposer"] == address
            ]
            page.reload()  # the vote form lists the proposals open now
            expect(
                page.locator("#sc-vote-proposal option", has_text="Keep the market open at night")
            ).to_have_count(1)
            page.select_option("#sc-vote-proposal", proposal["proposal_id"])
            page.select_option("#sc-vote-option", "yes")
            assert sent("sc-vote", f"vote yes on proposal #{proposal['number']}")["ok"]
            votes = live_site.get(f"/api/v1/governance/proposals/{proposal['number']}/votes/").json()
            assert [(v["voter"], v["option"]) for v in votes] == [(address, "yes")]
            page.fill("#sc-cashout-amount", "5")
            assert sent("sc-cashout", "cash-out of 5 tokens")["kind"] == "cashout_request"
            account = live_site.get(f"/api/v1/accounts/{address}/").json()
            assert (account["staked"], account["escrow_tokens"]) == (
                1_000 * TOKEN,
                5 * TOKEN,
            )  # held for the issuer
            page.screenshot(path=SHOTS / "web-self-custody-after.png", full_page=True)

            first_page = browser.contexts[0].pages[0]
            first_page.reload()
            expect(first_page.locator("#sc-transfer button[type=submit]")).to_be_enabled()
            first_page.screenshot(path=SHOTS / "web-self-custody-wallet.png", full_page=True)
            page.goto(live_site.url + "/wallet/key/")
            page.screenshot(path=SHOTS / "web-wallet-key.png", full_page=True)
        finally:
            browser.close()
