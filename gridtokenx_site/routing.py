"""WebSocket routes of every app."""

from django.urls import re_path

from chain.consumers import UnknownStreamConsumer
from chain.routing import websocket_urlpatterns as chain_ws
from grid.routing import websocket_urlpatterns as grid_ws
from trading.routing import websocket_urlpatterns as market_ws

# Last: any other path is accepted only to be closed with 4404 (no server error, 1011).
websocket_urlpatterns = [*chain_ws, *market_ws, *grid_ws, re_path(r"", UnknownStreamConsumer.as_asgi())]
