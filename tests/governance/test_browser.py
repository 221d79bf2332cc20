"""Governance in real browsers on a real site: a proposal made in the form, two people vote,
each sees the other's vote move the tally bar without reloading; staff's validators page."""

import re
from pathlib import Path

import pytest

from chain.ledger.genesis import demo_key
from chain.ledger.tx import sign_transaction
from chain.management.commands.init import DEMO_PASSWORD
from chain.templatetags.chain_units import tokens
from localnet.genesis_files import solo_genesis
from localnet.network import start_site, stop_site

pytestmark = [pytest.mark.live, pytest.mark.browser]

SHOTS = Path("/tmp/gov-shots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TOKEN = 1_000_000
#: Long enough to vote in, short enough to watch it pass: ~40 s of 300 ms blocks.
VOTING_BLOCKS, DELAY_BLOCKS = 120, 4


@pytest.fixture(scope="module")
def gov_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gov_site")
    path = solo_genesis(tmp)
    text = re.sub(r"voting_period_blocks = \d+", f"voting_period_blocks = {VOTING_BLOCKS}", path.read_text())
    text = re.sub(r"execution_delay_blocks = \d+", f"execution_delay_blocks = {DELAY_BLOCKS}", text)
    # EGAT, the site's validator, reaches a 20% quorum by itself whatever its share of all stake.
    path.write_text(re.sub(r"quorum_ppm = \d+", "quorum_ppm = 200000", text))
    site, procs = start_site(tmp, genesis=path)
    yield site
    stop_site(site, procs)


def bond(site, username: str, tokens: int) -> None:
    """Stake through the REST API, signed with the demo key, and wait until it is committed."""
    key = demo_key(username)
    status = site.status()
    account = site.get(f"/api/v1/accounts/{key.verify_key.encode().hex()}/").json()
    tx = sign_transaction(
        key,
        chain_id=status["chain_id"],
        nonce=account["nonce"],
        kind="stake_bond",
        payload={"amount": tokens * TOKEN},
    )
    assert site.post("/api/v1/transactions/", json=tx.to_wire()).status_code in (200, 201, 202)
    site.wait_for(
        lambda: site.get(f"/api/v1/transactions/{tx.hash}/").json().get("status") == "committed", 60
    )


def log_in(browser, site, username, **context_args):
    page = browser.new_context(**context_args).new_page()
    page.goto(site.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/wallet/")
    return page


def open_live(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#live-dot.on", timeout=15_000)


def test_two_people_vote_and_each_sees_the_tally_move_without_reload(gov_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    bond(gov_site, "solar_somchai", 1500)
    bond(gov_site, "home_malee", 500)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            somchai = log_in(browser, gov_site, "solar_somchai", viewport={"width": 1280, "height": 900})
            malee = log_in(
                browser,
                gov_site,
                "home_malee",
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
            )

            # The create form checks each field as it is typed and shows only the chosen action's fields.
            open_live(somchai, gov_site.url + "/governance/new/")
            somchai.select_option("#id_proposal-action", "param_change")
            expect(somchai.locator("#id_proposal-path")).to_be_hidden()
            somchai.select_option("#id_proposal-param", "gate_closure_minutes")
            somchai.fill("#id_proposal-value", "5")
            expect(somchai.locator("#err-proposal-value")).to_contain_text("already 5")
            somchai.screenshot(path=SHOTS / "gov-new-inline-error.png", full_page=True)
            somchai.fill("#id_proposal-value", "10")
            expect(somchai.locator("#err-proposal-value")).to_have_text("")
            somchai.fill("#id_proposal-title", "Gate closure 10 minutes before each slot")
            somchai.fill("#id_proposal-description", "Gives the grid operator more time to plan dispatch.")
            somchai.click("#form-proposal button[type=submit]")
            expect(somchai.locator("#form-proposal .flash")).to_contain_text("Proposal signed and sent")
            gov_site.wait_for(lambda: gov_site.get("/api/v1/governance/proposals/1/").status_code == 200, 60)

            open_live(somchai, gov_site.url + "/governance/1/")
            open_live(malee, gov_site.url + "/governance/1/")
            expect(somchai.locator('[data-tally="voters"]')).to_have_text("0")

            # Malee votes yes on her phone: Somchai's page shows her 500 staked tokens, no reload.
            malee.click("#vote-box button[value=yes]")
            expect(malee.locator("#vote-box .flash")).to_contain_text("signed and sent")
            expect(somchai.locator('[data-tally="yes"]')).to_have_text("500.00", timeout=30_000)
            expect(somchai.locator('[data-tally="voters"]')).to_have_text("1")
            yes_width = somchai.get_attribute('[data-seg="yes"]', "style")
            assert yes_width != "width: 0.00%"

            # Somchai votes no: Malee's page moves; then Somchai changes his mind to yes.
            somchai.click("#vote-box button[value=no]")
            expect(malee.locator('[data-tally="no"]')).to_have_text("1,500.00", timeout=30_000)
            expect(malee.locator("#votes tbody tr")).to_have_count(2)
            malee.screenshot(path=SHOTS / "gov-detail-phone.png", full_page=True)
            somchai.click("#vote-box button[value=yes]")
            expect(malee.locator('[data-tally="yes"]')).to_have_text("2,000.00", timeout=30_000)
            expect(malee.locator('[data-tally="no"]')).to_have_text("0.00")
            somchai.screenshot(path=SHOTS / "gov-detail-desktop.png", full_page=True)

            # Staff vote with the site's validator: the quorum is reached and, after the period,
            # the proposal executes by itself and the page says from which block it applies.
            staff = log_in(browser, gov_site, "admin", viewport={"width": 1280, "height": 900})
            open_live(staff, gov_site.url + "/governance/1/")
            staff.click("#vote-box button[value=yes]")
            egat = gov_site.get(f"/api/v1/accounts/{demo_key('EGAT').verify_key.encode().hex()}/").json()
            expected_yes = tokens(egat["staked"] + 2000 * TOKEN)
            expect(somchai.locator('[data-tally="yes"]')).to_have_text(expected_yes, timeout=30_000)
            expect(somchai.locator("#tally")).to_contain_text("Would pass if counted now")
            expect(somchai.locator("#tally")).to_contain_text("Executed", timeout=180_000)
            somchai.reload()
            expect(somchai.locator("#effective-height")).to_have_text(re.compile(r"\d+"))
            somchai.screenshot(path=SHOTS / "gov-detail-executed.png", full_page=True)
            doc = gov_site.get("/api/v1/governance/proposals/1/").json()
            assert doc["status"] == "executed" and doc["effective_height"] == doc["executed_height"] + 1
            assert doc["executed_height"] == doc["voting_end_height"] + DELAY_BLOCKS

            open_live(malee, gov_site.url + "/governance/")
            expect(malee.locator(".proposal-card")).to_have_count(1)
            malee.screenshot(path=SHOTS / "gov-list-phone.png", full_page=True)
        finally:
            browser.close()


def test_staff_see_validators_with_health_and_act_on_chain(gov_site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            staff = log_in(browser, gov_site, "admin", viewport={"width": 1280, "height": 1000})
            staff.goto(gov_site.url + "/validators/")
            expect(staff.locator('[data-validator="EGAT"]')).to_contain_text("this site")
            expect(staff.locator('#node-health [data-health="EGAT"]')).to_be_visible(timeout=15_000)
            # Registering a validator is an authority transaction signed with the site's key
            # (inactive, so the set that makes blocks stays as it is).
            staff.fill("#id_register-public_key", demo_key("SOLARCO").verify_key.encode().hex())
            staff.fill("#id_register-name", "SOLARCO")
            staff.fill("#id_register-url", "ftp://solarco")
            expect(staff.locator("#err-register-url")).to_contain_text("http://")
            staff.fill("#id_register-url", "https://solarco.example")
            staff.select_option("#id_register-region", "north")
            staff.click("#form-register button[type=submit]")
            expect(staff.locator(".flash")).to_contain_text("signed by this site's authority key")

            def audit_shows_it():
                staff.goto(gov_site.url + "/validators/audit/")
                return staff.locator('#audit-table [data-kind="validator_register"]').count() == 1

            gov_site.wait_for(audit_shows_it, 60, interval=1)
            staff.screenshot(path=SHOTS / "validators-audit.png", full_page=True)
            expect(staff.locator("#audit-table")).to_contain_text("EGAT")
            staff.goto(gov_site.url + "/validators/")
            expect(staff.locator('[data-validator="SOLARCO"]')).to_contain_text("inactive")
            staff.wait_for_selector('#node-health [data-health="EGAT"]')
            staff.screenshot(path=SHOTS / "validators-staff.png", full_page=True)
            # Deactivating a validator asks first, saying what the set becomes; declined, nothing is sent.
            active = staff.locator("#validator-table .status-ok").count()
            asked = []
            staff.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
            staff.click('[data-validator="EGAT"] button:has-text("Deactivate")')
            assert f"from {active} to {active - 1} validators" in asked[0], asked
            expect(staff.locator('[data-validator="EGAT"] .status-ok')).to_have_text("active")
            expect(staff.locator(".flash")).to_have_count(0)

            regulator = log_in(
                browser,
                gov_site,
                "erc_auditor",
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
            )
            regulator.goto(gov_site.url + "/validators/")
            expect(regulator.locator("#validator-table")).to_be_visible()
            expect(regulator.locator("#form-register")).to_have_count(0)
            regulator.wait_for_selector('#node-health [data-health="EGAT"]')
            regulator.screenshot(path=SHOTS / "validators-phone-regulator.png", full_page=True)
        finally:
            browser.close()
