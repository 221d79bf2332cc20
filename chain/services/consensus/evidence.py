"""Double signing: recorded when the machine sees it, reported on chain at beat's tick."""

import logging

from chain.consensus.messages import message_wire
from chain.ledger.errors import Refused
from chain.models import ConsensusMessage, Evidence
from chain.node import node_signing_key
from chain.services.signing import transaction_sign_submit

log = logging.getLogger(__name__)


def evidence_record(evidence) -> None:
    """Keep a pair of one validator's messages that sign two values for one (height, round, type)."""
    first, second = evidence.first, evidence.second
    key = f"{first.sender}:{first.height}:{first.round}:{first.type}"
    Evidence.objects.get_or_create(
        key=key,
        defaults={
            "validator": first.sender,
            "height": first.height,
            "round": first.round,
            "type": first.type,
            "first": message_wire(first),
            "second": message_wire(second),
        },
    )


def evidence_report() -> int:
    """Put the double signing this site saw on chain, signed by its node key; how many were sent."""
    sent = 0
    for evidence in Evidence.objects.filter(reported=False)[:10]:
        signatures = dict(
            ConsensusMessage.objects.filter(
                height=evidence.height, round=evidence.round, type=evidence.type, sender=evidence.validator
            ).values_list("block_hash", "signature")
        )
        pair = [evidence.first, evidence.second]
        if all(m["block_hash"] in signatures for m in pair):
            payload = {
                "first": {**pair[0], "signature": signatures[pair[0]["block_hash"]]},
                "second": {**pair[1], "signature": signatures[pair[1]["block_hash"]]},
            }
            try:
                transaction_sign_submit(key=node_signing_key(), kind="evidence_double_sign", payload=payload)
                sent += 1
            except Refused as exc:
                log.warning("Evidence against %s not admitted: %s", evidence.validator[:12], exc)
        # Reported, or its messages are gone with their height: nothing more to do either way.
        Evidence.objects.filter(key=evidence.key).update(reported=True)
    return sent
