from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        # Registers the governance and validator-administration kinds, tables and block-start tally.
        import governance.ledger  # noqa: F401
