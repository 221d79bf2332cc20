from django.shortcuts import render

from chain import selectors


def home(request):
    return render(
        request,
        "home.html",
        {"stats": selectors.chain_stats(), "blocks": selectors.blocks_before(height=None, limit=5)},
    )
