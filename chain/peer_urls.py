"""The peer protocol's routes, under /peer/v1/ (docs/CONSENSUS.md)."""

from django.urls import path

from chain.views import peer

urlpatterns = [
    path("consensus/", peer.consensus_messages, name="peer-consensus"),
    path("transactions/", peer.gossiped_transactions, name="peer-transactions"),
    path("transactions/lookup/", peer.transactions_lookup, name="peer-transactions-lookup"),
    path("blocks/", peer.blocks, name="peer-blocks"),
    path("status/", peer.status, name="peer-status"),
]
