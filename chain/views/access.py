"""Who may do what in the browser.

Regulators read everything and change nothing; staff read everything and run
the site from the admin. Consumers and producers see their own wallet only.
Ledger data (blocks, transactions, balances by address) is public; who owns an
address is personal and shown only to those who read everything.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied

from chain import selectors
from chain.models import Role

STAFF = "staff"


def user_role(user) -> str | None:
    """The role to show and to check: staff first, then the wallet's role."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return STAFF
    wallet = getattr(user, "wallet", None)
    return wallet.role if wallet is not None else None


def reads_everything(user) -> bool:
    return user_role(user) in (STAFF, Role.REGULATOR)


def account_owners(request, addresses) -> dict[str, str]:
    """Usernames behind addresses, for regulators and staff; nobody else sees who owns what."""
    return selectors.usernames_by_address(addresses=list(addresses)) if reads_everything(request.user) else {}


def holds_trading_wallet(user) -> bool:
    """A wallet owner who is not a regulator: whoever may sign, here or in their own browser."""
    wallet = getattr(user, "wallet", None) if user.is_authenticated else None
    return wallet is not None and wallet.role != Role.REGULATOR


def may_transact(user) -> bool:
    """This site signs for a wallet owner who is not a regulator and whose key it keeps.

    A self-custody wallet signs in its owner's browser (chain/wallet/_self_custody.html).
    """
    return holds_trading_wallet(user) and not user.wallet.self_custody


def transacting_user_required(view):
    """403 for regulators, users without a wallet and self-custody wallets; use under login_required."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not may_transact(request.user):
            if holds_trading_wallet(request.user):
                raise PermissionDenied("Your key is in your browser: sign from your wallet page.")
            raise PermissionDenied("Regulators read the ledger; they cannot change it.")
        return view(request, *args, **kwargs)

    return wrapper


def trading_wallet_required(view):
    """403 for regulators and users without a wallet; use under login_required."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not holds_trading_wallet(request.user):
            raise PermissionDenied("Only consumers and producers hold a wallet key.")
        return view(request, *args, **kwargs)

    return wrapper


def reads_everything_required(view):
    """403 for anyone but regulators and staff; use under login_required."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not reads_everything(request.user):
            raise PermissionDenied("Only regulators and staff can open other people's wallets.")
        return view(request, *args, **kwargs)

    return wrapper
