"""TEMPORARY (not committed): write some Thai pages to /tmp/i18n2/render for reading."""

import pytest
from django.conf import settings

from tests.web.test_permissions import world  # noqa: F401

pytestmark = pytest.mark.django_db

PAGES = {
    "producer": ["/market/", "/market/trade/", "/treasury/", "/wallet/key/", "/governance/1/", "/meters/", "/meters/requests/", "/certificates/", "/statement/", "/explorer/block/1/", "/explorer/", "/wallet/"],
    "staff": ["/validators/", "/grid/", "/treasury/queue/"],
    "regulator": ["/audit/", "/audit/trades/", "/audit/treasury/", "/audit/surveillance/"],
}


def test_render(client_as, world):  # noqa: F811
    for role, paths in PAGES.items():
        client = client_as(role)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "th"
        for path in paths:
            response = client.get(path, follow=True)
            name = role + path.replace("/", "_")
            with open(f"/tmp/i18n2/render/{name}.html", "w") as f:
                f.write(f"<!-- {response.status_code} -->\n" + response.content.decode())
