"""The wallet installs on a phone: a web app manifest, and a service worker whose offline
shell opens when the network is gone, while pages themselves are never served from a cache."""

import json

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.web.test_browser_wallet import CHROMIUM_ARGS, SHOTS, log_in


def test_the_manifest_names_an_installable_app(client):
    response = client.get(reverse("app-manifest"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == reverse("wallet")
    icon = manifest["icons"][0]
    assert icon["sizes"] == "any" and icon["type"] == "image/svg+xml"
    assert finders.find(icon["src"].removeprefix(settings.STATIC_URL))


@pytest.mark.django_db
def test_every_page_links_the_manifest(chain, client):
    page = client.get(reverse("home")).content.decode()
    assert f'rel="manifest" href="{reverse("app-manifest")}"' in page
    assert f'data-service-worker="{reverse("service-worker")}"' in page


def test_the_service_worker_is_served_from_the_root_uncached(client):
    response = client.get(reverse("service-worker"))
    assert reverse("service-worker") == "/sw.js"  # its scope is the path it is served from
    assert response["Content-Type"].startswith("application/javascript")
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    assert f'const OFFLINE_URL = "{reverse("app-offline")}"' in body


@pytest.mark.django_db
def test_the_offline_shell_names_nobody(users, client):
    client.force_login(users["home_malee"])
    page = client.get(reverse("app-offline")).content.decode()
    assert "You are offline" in page
    assert "home_malee" not in page
    assert "Log out" not in page


@pytest.mark.live
@pytest.mark.browser
def test_on_a_phone_the_header_is_one_line_and_offline_the_app_opens_its_shell(live_site):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            page = log_in(context, live_site, "home_malee")
            # The biggest balance a wallet could hold still fits its card on one line.
            page.eval_on_selector(
                '[data-balance="tokens"]', "el => { el.firstChild.textContent = '9,007,199,254.740991 '; }"
            )
            fits = page.eval_on_selector(
                '[data-balance="tokens"]',
                "el => [getComputedStyle(el).whiteSpace, el.scrollWidth <= el.parentElement.clientWidth]",
            )
            assert fits == ["nowrap", True], fits
            page.keyboard.press("Tab")
            assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
            header = page.locator(".site-header nav").bounding_box()
            assert header["height"] < 64, header  # one line on a phone: the brand and Menu
            assert not page.get_by_role("link", name="Market").is_visible()
            page.get_by_role("button", name="Menu").click()
            page.get_by_role("link", name="Market").wait_for()
            assert page.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "true"
            page.screenshot(path=str(SHOTS / "app-menu-phone.png"))
            scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
            assert scope == live_site.url + "/"
            context.set_offline(True)
            page.goto(live_site.url + "/market/", wait_until="domcontentloaded")
            page.get_by_role("heading", name="You are offline").wait_for(timeout=10_000)
            page.screenshot(path=str(SHOTS / "app-offline-phone.png"))
            context.set_offline(False)
            page.goto(live_site.url + "/wallet/")
            assert page.locator('[data-balance="tokens"]').is_visible()
        finally:
            browser.close()
