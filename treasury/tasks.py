from celery import shared_task

from treasury.services import topups_asked_auto_confirm


@shared_task(name="treasury.confirm_asked_topups", ignore_result=True)
def confirm_asked_topups() -> int:
    """Beat runs this at a site with GTX_TOPUP_AUTO_CONFIRM_TOKENS (the demo): see the service."""
    return topups_asked_auto_confirm()
