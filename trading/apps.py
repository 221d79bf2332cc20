from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    verbose_name = "Energy market"

    def ready(self):
        # Registers the order kinds, the market's tables and its block-start sweep.
        import trading.ledger  # noqa: F401
