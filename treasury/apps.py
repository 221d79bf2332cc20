from django.apps import AppConfig


class TreasuryConfig(AppConfig):
    name = "treasury"
    verbose_name = "Treasury (tokens in and out)"

    def ready(self):
        # Registers the mint, burn and cash-out kinds and the treasury's tables.
        import treasury.ledger  # noqa: F401
