"""WebSocket routes of every app."""

from chain.routing import websocket_urlpatterns as chain_ws

websocket_urlpatterns = [*chain_ws]
