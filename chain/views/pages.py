from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control

from chain import selectors


def home(request):
    return render(
        request,
        "home.html",
        {"stats": selectors.chain_stats(), "blocks": selectors.blocks_before(height=None, limit=5)},
    )


def node_status(request):
    """This site's consensus, peers and validator set: what an operator checks first."""
    from datetime import datetime

    status = selectors.node_status()
    validators = [
        {**v, "reputation_percent": f"{v['reputation_ppm'] / 10_000:.1f}"}
        for v in selectors.validator_set_rows()
    ]
    last = status["last_block_at"]
    return render(
        request,
        "chain/node/status.html",
        {
            "status": status,
            "validators": validators,
            "last_block_at": datetime.fromisoformat(last) if last else None,
        },
    )


def app_manifest(request):
    """The web app manifest: the wallet installs from the browser onto a phone's home screen."""
    return JsonResponse(
        {
            "name": "GridTokenX",
            "short_name": "GridTokenX",
            "description": "Peer-to-peer renewable energy trading: your wallet, the market and the grid.",
            "start_url": reverse("wallet"),
            "scope": "/",
            "display": "standalone",
            "background_color": "#f7faf9",
            "theme_color": "#0f3d3a",
            "icons": [
                {
                    "src": static("icons/gridtokenx.svg"),
                    "sizes": "any",
                    "type": "image/svg+xml",
                    "purpose": "any maskable",
                }
            ],
        },
        content_type="application/manifest+json",
    )


#: Bumped when the offline shell changes, so browsers drop the old cache.
SHELL_VERSION = "1"


@cache_control(no_cache=True)
def service_worker(request):
    """Served at the site's root so that its scope is the whole site."""
    return render(
        request,
        "chain/app/service_worker.js",
        {"shell_version": SHELL_VERSION},
        content_type="application/javascript",
    )


def app_offline(request):
    """The shell the service worker shows when a page cannot be fetched. It is cached in the
    browser, so it names nobody: whoever uses the browser next must not see another's name."""
    return render(request, "chain/app/offline.html", {"user": AnonymousUser()})
