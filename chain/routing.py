from django.urls import path

from chain import peer_api
from chain.consumers import ChainStreamConsumer, PeerEndpoint

websocket_urlpatterns = [path("ws/chain/", ChainStreamConsumer.as_asgi())]

#: The peer protocol (docs/CONSENSUS.md), served beside Django (gridtokenx_site.asgi).
peer_http_urlpatterns = [
    path("peer/v1/consensus/", PeerEndpoint.as_asgi(method="POST", handler=peer_api.consensus_messages)),
    path(
        "peer/v1/transactions/",
        PeerEndpoint.as_asgi(method="POST", handler=peer_api.gossiped_transactions),
    ),
    path(
        "peer/v1/transactions/lookup/",
        PeerEndpoint.as_asgi(method="POST", handler=peer_api.transactions_lookup),
    ),
    path("peer/v1/blocks/", PeerEndpoint.as_asgi(method="GET", handler=peer_api.blocks)),
    path("peer/v1/status/", PeerEndpoint.as_asgi(method="GET", handler=peer_api.status)),
    path("peer/v1/follow/", PeerEndpoint.as_asgi(method="POST", handler=peer_api.followed_blocks)),
]
