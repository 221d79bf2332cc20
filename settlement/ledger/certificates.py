"""Renewable energy certificates: issued at settlement, transferred in part, claimed once.

Every metered renewable Wh is certified once, when its slot settles
(settlement.ledger.delivery), to whoever owns it:

- a settled renewable trade issues its buyer a certificate of the Wh delivered
  to it, up to the seller's renewable export of the slot not yet certified
  (``issue``); its id is derived from the trade id, so a trade issues at most one;
- the rest of the owner's renewable export of the slot, unsold, is certified to
  the owner itself (``issue_export``); a reading that arrives after its slot
  settled is certified the same way in a later block.

So the certificates of a slot never exceed its metered renewable export, and once
it settled they equal it: the Wh a P2P buyer claims are never also issued to the
producer. A holder may then

- ``certificate_transfer`` part or all of a held certificate: the whole record
  changes holder, or ``wh`` is split off into a new record for the recipient;
- ``certificate_claim`` (retire) held Wh of one or several certificates for a
  named beneficiary: the claimed Wh becomes a record with status ``claimed``,
  which no kind changes again.

Wh only moves between records, so for every issued certificate the held and
claimed records descending from it sum to what was issued, and the sum of all
records is the renewable Wh delivered. A claimed record is never transferred
nor claimed: double counting is impossible by construction.
"""

import hashlib
from dataclasses import dataclass, replace
from typing import ClassVar

from chain.ledger import errors
from chain.ledger.errors import LedgerError
from chain.ledger.fields import is_hex64, require_text
from chain.ledger.keys import is_address
from chain.ledger.kinds import BlockContext, TxKind, sender_only
from chain.ledger.state import State
from chain.ledger.tx import Transaction, require_amount, require_fields
from meters.ledger.records import SlotEnergy

HELD = "held"
CLAIMED = "claimed"
BENEFICIARY_MAX = 120
#: The most certificates one bulk claim retires.
MAX_CLAIMS = 50

# Refusal codes (API clients match on them; views and tests import them).
CERTIFICATE_NOT_FOUND = "certificate_not_found"
NOT_HOLDER = "not_certificate_holder"
ALREADY_CLAIMED = "certificate_claimed"
INSUFFICIENT_CERTIFICATE = "insufficient_certificate_wh"


@dataclass(frozen=True, slots=True)
class Certificate:
    """Wh of renewable energy delivered by ``producer`` in one slot, held or claimed by ``holder``."""

    table: ClassVar[str] = "certificate"
    certificate_id: str
    #: The certificate issued at settlement this record descends from (itself if it is one).
    origin_id: str
    #: The trade whose delivery issued the origin; empty for the producer's unsold export.
    trade_id: str
    holder: str
    producer: str
    delivery_slot_ms: int
    source: str
    zone: str
    wh: int
    status: str
    issued_height: int
    #: Set when claimed: for whom, and in which block.
    beneficiary: str = ""
    claimed_height: int = 0

    @property
    def key(self) -> str:
        return self.certificate_id


def certificate_id_of_trade(trade_id: str) -> str:
    """The id of the certificate a trade's delivery issues: one trade, one certificate."""
    return hashlib.sha256(f"gtx-certificate:{trade_id}".encode("ascii")).hexdigest()


def split_id(parent_id: str, tx_hash: str) -> str:
    """The id of Wh split off ``parent_id`` by one transaction (a transaction splits a parent once)."""
    return hashlib.sha256(f"gtx-certificate-split:{parent_id}:{tx_hash}".encode("ascii")).hexdigest()


def export_certificate_id(energy: SlotEnergy) -> str:
    """The id of the certificate of a slot's unsold export: one per owner, slot and Wh certified before."""
    return hashlib.sha256(
        f"gtx-certificate-export:{energy.slot_energy_id}:{energy.certified_wh}".encode("ascii")
    ).hexdigest()


def issue(state: State, ctx: BlockContext, trade, delivered_wh: int) -> Certificate | None:
    """The certificate of a settled renewable trade's delivered Wh, to its buyer.

    At most the seller's renewable export of the slot not yet certified: Wh its
    other meters exported are delivered but are not renewable. None when that is 0.
    """
    energy = state.get(SlotEnergy.table, SlotEnergy.id_of(trade.delivery_slot_ms, trade.seller))
    wh = min(delivered_wh, energy.uncertified_wh if energy else 0)
    if wh <= 0:
        return None
    state.put(replace(energy, certified_wh=energy.certified_wh + wh))
    certificate_id = certificate_id_of_trade(trade.trade_id)
    return _issue(
        state,
        ctx,
        certificate_id,
        trade_id=trade.trade_id,
        holder=trade.buyer,
        producer=trade.seller,
        delivery_slot_ms=trade.delivery_slot_ms,
        source=trade.source,
        zone=trade.seller_zone,
        wh=wh,
    )


def issue_export(state: State, ctx: BlockContext, energy: SlotEnergy) -> Certificate | None:
    """Certify the rest of a settled slot's renewable export to its owner, who did not sell it."""
    wh = energy.uncertified_wh
    state.put(replace(energy, certified_wh=energy.renewable_export_wh, uncertified_slot_ms=0))
    if wh <= 0:
        return None
    return _issue(
        state,
        ctx,
        export_certificate_id(energy),
        trade_id="",
        holder=energy.owner,
        producer=energy.owner,
        delivery_slot_ms=energy.delivery_slot_ms,
        source=energy.renewable_source,
        zone=energy.zone,
        wh=wh,
    )


def _issue(state: State, ctx: BlockContext, certificate_id: str, **fields) -> Certificate:
    certificate = Certificate(
        certificate_id=certificate_id,
        origin_id=certificate_id,
        status=HELD,
        issued_height=ctx.height,
        **fields,
    )
    state.put_new(certificate)
    # A buyer's certificate comes with its trade's settlement (trade_settled tells the
    # buyer); a producer's unsold export has no other event, so only it names its party.
    ctx.emit(
        "certificate_issued",
        certificate_id=certificate_id,
        trade_id=certificate.trade_id,
        delivery_slot_ms=certificate.delivery_slot_ms,
        wh=certificate.wh,
        parties=[] if certificate.trade_id else [certificate.holder],
    )
    return certificate


def _held(state: State, tx: Transaction, certificate_id: str, wh: int) -> Certificate:
    """The sender's held certificate with at least ``wh``, or the refusal saying why not."""
    certificate = state.get(Certificate.table, certificate_id)
    if certificate is None:
        raise LedgerError(CERTIFICATE_NOT_FOUND, "There is no certificate %(id)s.", {"id": certificate_id})
    if certificate.holder != tx.sender:
        raise LedgerError(NOT_HOLDER, "This certificate is held by another account.")
    if certificate.status != HELD:
        raise LedgerError(ALREADY_CLAIMED, "This certificate was already claimed: it cannot move again.")
    if certificate.wh < wh:
        raise LedgerError(
            INSUFFICIENT_CERTIFICATE,
            "The certificate holds %(held)s Wh, less than the %(asked)s Wh asked.",
            {"held": certificate.wh, "asked": wh},
        )
    return certificate


def _split(state: State, tx: Transaction, certificate: Certificate, wh: int, **changes) -> Certificate:
    """``wh`` of ``certificate`` with ``changes``: the whole record changed, or a new part split off."""
    if wh == certificate.wh:
        part = replace(certificate, **changes)
        state.put(part)
        return part
    state.put(replace(certificate, wh=certificate.wh - wh))
    part = replace(
        certificate, certificate_id=split_id(certificate.certificate_id, tx.hash), wh=wh, **changes
    )
    state.put_new(part)
    return part


def _require_certificate_id(value) -> None:
    if not is_hex64(value):
        raise LedgerError(errors.BAD_FIELD, "certificate_id must be 64 lowercase hex characters.")


# --- certificate_transfer --------------------------------------------------


def _check_transfer(payload: dict, params: dict) -> None:
    require_fields(payload, {"certificate_id", "to", "wh"}, {"certificate_id", "to", "wh"})
    _require_certificate_id(payload["certificate_id"])
    if not is_address(payload["to"]):
        raise LedgerError(errors.BAD_ADDRESS, "to must be an address: 64 lowercase hex characters.")
    require_amount(payload, "wh")


def _apply_transfer(state: State, tx: Transaction, ctx: BlockContext) -> None:
    payload = tx.payload
    if payload["to"] == tx.sender:
        raise LedgerError(errors.SELF_TRANSFER, "An account cannot send a certificate to itself.")
    certificate = _held(state, tx, payload["certificate_id"], payload["wh"])
    part = _split(state, tx, certificate, payload["wh"], holder=payload["to"])
    ctx.emit(
        "certificate_transferred",
        certificate_id=part.certificate_id,
        from_certificate_id=certificate.certificate_id,
        wh=part.wh,
        parties=sorted({tx.sender, payload["to"]}),
    )


CERTIFICATE_TRANSFER = TxKind(
    name="certificate_transfer",
    check_payload=_check_transfer,
    prefetch=lambda tx: {Certificate.table: [tx.payload["certificate_id"]], **sender_only(tx)},
    apply=_apply_transfer,
)


# --- certificate_claim (one or several) -----------------------------------


def _check_claim(payload: dict, params: dict) -> None:
    require_fields(payload, {"claims", "beneficiary"}, {"claims", "beneficiary"})
    require_text(payload["beneficiary"], "beneficiary", BENEFICIARY_MAX, required=True)
    if payload["beneficiary"] != payload["beneficiary"].strip():
        raise LedgerError(errors.BAD_FIELD, "beneficiary must not start or end with spaces.")
    claims = payload["claims"]
    if type(claims) is not list or not 1 <= len(claims) <= MAX_CLAIMS:
        raise LedgerError(
            errors.BAD_FIELD, "claims must be a list of 1 to %(max)s certificates.", {"max": MAX_CLAIMS}
        )
    for claim in claims:
        if type(claim) is not dict:
            raise LedgerError(errors.BAD_FIELD, "Each claim must be an object: certificate_id and wh.")
        require_fields(claim, {"certificate_id", "wh"}, {"certificate_id", "wh"})
        _require_certificate_id(claim["certificate_id"])
        require_amount(claim, "wh")
    ids = [claim["certificate_id"] for claim in claims]
    if len(set(ids)) != len(ids):
        raise LedgerError(errors.BAD_FIELD, "A certificate may appear once in a claim.")


def _apply_claim(state: State, tx: Transaction, ctx: BlockContext) -> None:
    beneficiary = tx.payload["beneficiary"]
    claimed = []
    for claim in tx.payload["claims"]:
        certificate = _held(state, tx, claim["certificate_id"], claim["wh"])
        part = _split(
            state,
            tx,
            certificate,
            claim["wh"],
            status=CLAIMED,
            beneficiary=beneficiary,
            claimed_height=ctx.height,
        )
        claimed.append(part.certificate_id)
    total = sum(claim["wh"] for claim in tx.payload["claims"])
    ctx.emit("certificates_claimed", certificate_ids=claimed, wh=total, parties=[tx.sender])


CERTIFICATE_CLAIM = TxKind(
    name="certificate_claim",
    check_payload=_check_claim,
    prefetch=lambda tx: {
        Certificate.table: [claim["certificate_id"] for claim in tx.payload["claims"]],
        **sender_only(tx),
    },
    apply=_apply_claim,
)
