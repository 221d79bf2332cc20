"""Celery tasks: thin wrappers over services, safe to run concurrently."""

from celery import shared_task

from chain.node import node_signing_key
from chain.services.blocks import block_produce


@shared_task(name="chain.produce_block", ignore_result=True)
def produce_block() -> int | None:
    """Beat fires this every block interval; the producer lock makes overlaps no-ops."""
    block = block_produce(node_signing_key())
    return block.height if block else None
