from django.shortcuts import render

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
