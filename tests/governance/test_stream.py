"""Votes reach browsers over the chain's stream (real Redis channel layer), after the block commits."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from chain.ledger.errors import Refused
from governance import services
from gridtokenx_site.routing import websocket_urlpatterns

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections"),
]

ROUTES = URLRouter(websocket_urlpatterns)


async def test_a_vote_is_in_its_blocks_events_on_the_chain_stream(open_proposal, users, produce):
    stream = WebsocketCommunicator(ROUTES, "/ws/chain/")
    connected, _ = await stream.connect()
    assert connected
    vote = database_sync_to_async(services.vote_cast)
    with pytest.raises(Refused):  # Malee has no stake: nothing is signed
        await vote(wallet=users["home_malee"].wallet, proposal_id=open_proposal.proposal_id, option="yes")
    await vote(wallet=users["solar_somchai"].wallet, proposal_id=open_proposal.proposal_id, option="no")
    try:
        block = await database_sync_to_async(produce)()
        message = await stream.receive_json_from(timeout=10)
        assert message["type"] == "block" and message["height"] == block.height
        votes = [e for e in message["events"] if e["type"] == "governance_vote"]
        assert votes == [
            {
                "type": "governance_vote",
                "proposal_id": open_proposal.proposal_id,
                "number": 1,
                "voter": users["solar_somchai"].wallet.address,
                "option": "no",
            }
        ]
    finally:
        await stream.disconnect()
