from celery import shared_task

from trading.demo import demo_market_tick


@shared_task(name="trading.demo_market_tick", ignore_result=True)
def demo_market() -> int:
    """Beat runs this only when GTX_DEMO_MARKET=1 (`make run`)."""
    return demo_market_tick()
