"""axe-core over the pages people use, in English and in Thai: no serious or critical violation.

axe-core comes from npm (package.json's devDependencies, installed by ``make``) and is
injected into each page from node_modules; the site never serves it.
"""

from pathlib import Path

import pytest

from tests.web.test_browser_wallet import CHROMIUM_ARGS, log_in

pytestmark = [pytest.mark.live, pytest.mark.browser]

AXE = Path(__file__).resolve().parents[2] / "node_modules/axe-core/axe.min.js"
#: What a visitor, a trader and a regulator open first: each page as they see it.
PAGES = {
    None: ["/", "/market/", "/explorer/", "/grid/", "/governance/", "/accounts/login/", "/accounts/signup/"],
    "home_malee": ["/wallet/", "/market/trade/", "/activity/", "/meters/", "/treasury/"],
    "erc_auditor": ["/audit/"],
}
SERIOUS = ("serious", "critical")


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in found if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("language", ["en", "th"])
def test_the_main_pages_have_no_serious_accessibility_violation(live_site, language):
    from playwright.sync_api import sync_playwright

    found = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for username, paths in PAGES.items():
                context = browser.new_context(bypass_csp=True)  # the site's CSP refuses injected scripts
                context.add_cookies([{"name": "django_language", "value": language, "url": live_site.url}])
                page = log_in(context, live_site, username) if username else context.new_page()
                for path in paths:
                    page.goto(live_site.url + path)
                    page.wait_for_load_state("load")
                    assert page.evaluate("document.documentElement.lang") == language, path
                    if problems := violations(page):
                        found[f"{username or 'visitor'} {path}"] = problems
                context.close()
        finally:
            browser.close()
    assert found == {}, "\n".join(
        f"{page}: {problem}" for page, problems in found.items() for problem in problems
    )
