from celery import shared_task

from audit.services import VERIFY_CHAIN_TASK, verification_run


@shared_task(name=VERIFY_CHAIN_TASK, ignore_result=True)
def verify_chain(verification_id: int) -> str | None:
    """Runs one queued verification (claimed once, so a redelivered task does nothing)."""
    verification = verification_run(verification_id=verification_id)
    return verification.status if verification else None
