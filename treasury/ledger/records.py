"""The treasury's ledger records: every mint and burn by its payment reference, cash-outs, and
top-ups asked for on chain (at a site that does not issue).

Part of the state root like every record. Amounts in units (10^-6 token).
"""

from dataclasses import dataclass
from typing import ClassVar

# Payment direction: tokens in (a top-up paid to the issuer, minted) or out (a cash-out paid, burnt).
MINT = "mint"
BURN = "burn"

# Cash-out status: open (tokens in escrow) -> burnt (the issuer paid) or released (refused).
OPEN = "open"
BURNT = "burnt"
RELEASED = "released"

# Top-up status (asked on chain): open -> minted (the issuer's token_mint) or refused (topup_refuse).
MINTED = "minted"
REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Payment:
    """One mint or burn, keyed by its off-chain payment reference: a reference is used once, ever."""

    table: ClassVar[str] = "treasury_payment"
    reference: str
    direction: str
    account: str
    amount: int
    issuer: str
    height: int
    tx_hash: str
    #: The cash-out a burn pays ("" for a mint).
    cashout_id: str

    @property
    def key(self) -> str:
        return self.reference


@dataclass(frozen=True, slots=True)
class CashOut:
    """A holder's request to turn tokens back into baht; its id is the request's transaction hash.

    While open, ``amount`` sits in the owner's ``escrow_tokens``; a burn takes it
    out of the supply, a release gives it back to the balance.
    """

    table: ClassVar[str] = "treasury_cashout"
    cashout_id: str
    owner: str
    amount: int
    status: str
    requested_height: int
    closed_height: int = 0
    #: The issuer that burnt or released it, the burn's payment reference, a release's reason.
    issuer: str = ""
    reference: str = ""
    reason: str = ""

    @property
    def key(self) -> str:
        return self.cashout_id


@dataclass(frozen=True, slots=True)
class TopUp:
    """A top-up asked for on chain by a site that does not issue, on behalf of its user.

    The person pays the issuer quoting ``reference``; every site, the issuer's among
    them, sees the request here. The issuer's token_mint with this reference must
    credit exactly ``account`` with ``amount`` and closes it (minted), or its
    topup_refuse closes it with a reason. The reference is then spent for good.
    """

    table: ClassVar[str] = "treasury_topup"
    reference: str
    account: str
    amount: int
    #: The validator whose site relayed the request (its node key signed topup_request).
    site: str
    status: str
    requested_height: int
    closed_height: int = 0
    #: The issuer that minted or refused it, and a refusal's reason.
    issuer: str = ""
    reason: str = ""

    @property
    def key(self) -> str:
        return self.reference
