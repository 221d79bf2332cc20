from django.apps import AppConfig


class ChainConfig(AppConfig):
    name = "chain"
    verbose_name = "Ledger"

    def ready(self) -> None:
        from chain.ledger import evidence  # noqa: F401  (registers evidence_double_sign and its table)
