from celery import shared_task

from chain.ledger.errors import Refused
from grid.services import grid_report_tick


@shared_task(name="grid.demo_grid_tick", ignore_result=True)
def demo_grid_tick() -> bool:
    """Beat runs this every second only when GTX_DEMO_GRID=1 (`make run`)."""
    try:
        return grid_report_tick() is not None
    except Refused:
        return False  # e.g. the mempool is full: the next second reports again
