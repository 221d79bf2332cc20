from django.apps import AppConfig


class GridConfig(AppConfig):
    name = "grid"
    verbose_name = "Grid"

    def ready(self) -> None:
        from grid import ledger  # noqa: F401  (registers the grid's kinds, tables and capacity limit)
