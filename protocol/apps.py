from django.apps import AppConfig

import protocol


class ProtocolConfig(AppConfig):
    """Installs the state machine when the site starts (web, workers, management commands)."""

    name = "protocol"
    verbose_name = "Protocol"

    def ready(self) -> None:
        protocol.install()
