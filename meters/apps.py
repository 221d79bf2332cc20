from django.apps import AppConfig


class MetersConfig(AppConfig):
    name = "meters"
    verbose_name = "Smart meters"

    def ready(self):
        # Registers the meter kinds and tables with the ledger core.
        import meters.ledger  # noqa: F401
