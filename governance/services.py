"""Governance's write path: check like the ledger will, sign, admit.

People sign proposals and votes with their custodial wallet (chain.services.wallets).
Staff act for the site: they vote and administer validators with the site's node
key (in the demo, EGAT's, an authority). The block decides; these checks exist so
a person reads what is wrong at once instead of a failed receipt a block later.
"""

from chain.ledger import errors
from chain.ledger.errors import LedgerError, Refused, ledger_text
from chain.ledger.kinds import LAST_MINER
from chain.ledger.tx import Transaction
from chain.ledger.validators import is_authority
from chain.models import Account, ChainHead, Validator, Wallet
from chain.node import node_address, node_signing_key
from chain.selectors import active_validators, authority_get, not_mining_keys
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from governance.ledger import rules as r
from governance.ledger.proposals import governance_params
from governance.models import Proposal, ProposalStatus

#: Which form field each refusal belongs beside.
FIELD_OF_CODE = {r.NO_STAKE: None, r.UNKNOWN_VALIDATOR: "public_key", r.VALIDATOR_EXISTS: "public_key"}


def _params() -> dict:
    return ChainHead.objects.only("params").get().params


def _staked(address: str) -> int:
    return Account.objects.filter(address=address).values_list("staked", flat=True).first() or 0


def _wallet_submit(wallet: Wallet, kind: str, payload: dict) -> Transaction:
    return transaction_sign_submit(
        key=wallet_key_open(wallet), kind=kind, payload=payload, fields=FIELD_OF_CODE
    )


def proposal_create(*, wallet: Wallet, payload: dict) -> Transaction:
    """Sign and admit a governance_propose for ``wallet``; the proposal's id is the tx hash."""
    params = _params()
    try:
        r.check_propose_payload(payload, params)
    except LedgerError as exc:
        raise Refused(exc.code, exc.message, fields=FIELD_OF_CODE) from exc
    needed = max(governance_params(params)["min_proposal_stake"], 1)
    if _staked(wallet.address) < needed:
        raise Refused(
            r.NO_STAKE,
            ledger_text(
                "Making a proposal needs at least %(tokens)s tokens staked. "
                "Bond tokens on your wallet page first.",
                tokens=f"{needed // params['token_unit']:,}",
            ),
        )
    return _wallet_submit(wallet, "governance_propose", payload)


def node_proposal_create(*, payload: dict) -> Transaction:
    """Staff propose for the site: governance_propose signed with its validator's node key."""
    params = _params()
    needed = max(governance_params(params)["min_proposal_stake"], 1)
    if _staked(node_address()) < needed:
        raise Refused(
            r.NO_STAKE,
            ledger_text(
                "Proposing needs %(tokens)s tokens staked; this validator has less.",
                tokens=f"{needed // params['token_unit']:,}",
            ),
        )
    return node_submit(kind="governance_propose", payload=payload)


def _vote_checks(*, address: str, proposal_id: str, option: str) -> dict:
    payload = {"proposal_id": proposal_id, "option": option}
    try:
        r.check_vote_payload(payload, {})
    except LedgerError as exc:
        raise Refused(exc.code, exc.message, fields=FIELD_OF_CODE) from exc
    proposal = Proposal.objects.filter(proposal_id=proposal_id).first()
    if proposal is None:
        raise Refused(r.PROPOSAL_NOT_FOUND, "No proposal has that id.")
    height = ChainHead.objects.only("height").get().height
    if proposal.status != ProposalStatus.OPEN or height + 1 > proposal.voting_end_height:
        raise Refused(
            r.VOTING_CLOSED,
            ledger_text(
                "Voting on proposal #%(number)s ended at block %(height)s.",
                number=proposal.number,
                height=proposal.voting_end_height,
            ),
        )
    if _staked(address) <= 0:
        if address == node_address():
            raise Refused(r.NO_STAKE, "Only staked tokens vote: this site's validator has none.")
        raise Refused(r.NO_STAKE, "Only staked tokens vote: bond some on your wallet page.")
    return payload


def vote_cast(*, wallet: Wallet, proposal_id: str, option: str) -> Transaction:
    """Sign and admit a governance_vote for ``wallet``; a later vote replaces it until the end."""
    payload = _vote_checks(address=wallet.address, proposal_id=proposal_id, option=option)
    return _wallet_submit(wallet, "governance_vote", payload)


def node_submit(*, kind: str, payload: dict) -> Transaction:
    """Sign ``kind``/``payload`` with this site's node key at its next free nonce and admit it."""
    return transaction_sign_submit(key=node_signing_key(), kind=kind, payload=payload, fields=FIELD_OF_CODE)


def node_vote_cast(*, proposal_id: str, option: str) -> Transaction:
    """Staff vote with the site's validator key: the site's stake is its weight."""
    payload = _vote_checks(address=node_address(), proposal_id=proposal_id, option=option)
    return node_submit(kind="governance_vote", payload=payload)


def _node_is_authority() -> None:
    signer = authority_get(public_key=node_address())
    if signer is None or not signer.active:
        raise Refused(
            errors.NOT_PERMITTED,
            "This site's node key is not an active authority: it cannot administer validators.",
        )


def _check_set_active(validator: Validator, active) -> None:
    """What the ledger will refuse (governance.ledger.validators.set_validator), said before signing."""
    from governance.ledger.validators import LAST_VALIDATOR, STAKE_TOO_LOW

    if active is True:
        params = _params()
        unit = params.get("token_unit", 1)
        needed = params.get("min_validator_stake", 0) * unit
        if _staked(validator.public_key) < needed:
            raise Refused(
                STAKE_TOO_LOW,
                ledger_text(
                    "%(name)s needs %(tokens)s tokens staked to be active.",
                    name=validator.name,
                    tokens=f"{needed // unit:,}",
                ),
            )
    elif active is False:
        others = Validator.objects.filter(active=True).exclude(public_key=validator.public_key)
        if not others.exists():
            raise Refused(LAST_VALIDATOR, "The last active validator cannot leave: nobody would make blocks.")
        if not any(is_authority(v) for v in others):
            raise Refused(
                LAST_VALIDATOR, "At least one active authority must remain: blocks need its precommit."
            )


def validator_admin(*, kind: str, payload: dict) -> Transaction:
    """An authority transaction (validator_register / _set_active / _unjail) signed by the node key."""
    from governance.ledger.validators import ADMIN_KINDS

    if kind not in ADMIN_KINDS:
        raise Refused(errors.UNKNOWN_KIND, ledger_text("Unknown validator action %(kind)s.", kind=kind))
    _node_is_authority()
    if kind != "validator_register":
        validator = Validator.objects.filter(public_key=payload.get("public_key", "")).first()
        if validator is None:
            raise Refused(r.UNKNOWN_VALIDATOR, "No validator has that public key.", fields=FIELD_OF_CODE)
        if kind == "validator_unjail" and not validator.jailed:
            raise Refused("not_jailed", ledger_text("%(name)s is not jailed.", name=validator.name))
        if kind == "validator_set_active":
            _check_set_active(validator, payload.get("active"))
    elif Validator.objects.filter(public_key=payload.get("public_key", "")).exists():
        raise Refused(
            r.VALIDATOR_EXISTS,
            "A validator with that public key is already registered.",
            fields=FIELD_OF_CODE,
        )
    return node_submit(kind=kind, payload=payload)


def node_stake_change(*, bond: bool, amount: int) -> Transaction:
    """The site's own validator bonds or unbonds stake (stake_bond / stake_unbond, its own key)."""
    return node_submit(kind="stake_bond" if bond else "stake_unbond", payload={"amount": amount})


def node_mining_set(*, mining: bool) -> Transaction:
    """The site's own validator turns its mining on or off (validator_set_mining, its own key).

    What the ledger will refuse (chain.ledger.kinds) is said before signing: a key that is no
    validator, no change, or the last active validator that mines turning it off.
    """
    address = node_address()
    validator = Validator.objects.filter(public_key=address).first()
    if validator is None:
        raise Refused(errors.NOT_PERMITTED, "Only a registered validator mines; this key is not one.")
    off = not_mining_keys()
    if mining == (address not in off):
        if mining:
            raise Refused(errors.BAD_FIELD, ledger_text("%(name)s already mines.", name=validator.name))
        raise Refused(
            errors.BAD_FIELD, ledger_text("%(name)s has already stopped mining.", name=validator.name)
        )
    if not mining and not any(v.public_key not in off | {address} for v in active_validators()):
        raise Refused(
            LAST_MINER,
            ledger_text(
                "%(name)s is the last active validator that mines: nobody else would propose blocks.",
                name=validator.name,
            ),
        )
    return node_submit(kind="validator_set_mining", payload={"mining": mining})
