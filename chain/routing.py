from django.urls import path

from chain.consumers import ChainStreamConsumer

websocket_urlpatterns = [path("ws/chain/", ChainStreamConsumer.as_asgi())]
