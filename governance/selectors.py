"""Governance's reads: proposals with their live tally, votes, the validator set and peer health.

Stake in units; shares in parts per million (ppm), turned into percentages only
by the templates. Peer health is fetched over HTTP with a short timeout, in
parallel, and cached for a few seconds so that no page waits on a dead site for long.
"""

import json
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime

import httpx
from django.core.cache import cache
from django.db.models import Count, Q, Sum

from chain.models import Account, Block, ChainHead, ChainTx, Validator
from chain.node import node_address
from chain.selectors import not_mining_keys
from governance.ledger import rules as r
from governance.ledger.proposals import governance_params
from governance.ledger.records import OPTIONS
from governance.ledger.validators import ADMIN_KINDS
from governance.models import Proposal, ProposalStatus, Vote

PPM = r.PPM
#: Uptime counts the precommits of this many latest blocks.
UPTIME_WINDOW = 100
HEALTH_TIMEOUT_S = 1.5
HEALTH_CACHE_S = 10


def _ppm(part: int, whole: int) -> int:
    return part * PPM // whole if whole > 0 else 0


def chain_params() -> dict:
    params = ChainHead.objects.only("params").get().params
    return {**params, **governance_params(params)}


def total_staked() -> int:
    return Account.objects.filter(staked__gt=0).aggregate(total=Sum("staked"))["total"] or 0


def proposals_list(*, status: str | None = None):
    proposals = Proposal.objects.all()
    return proposals.filter(status=status) if status else proposals


def proposal_counts() -> dict[str, int]:
    rows = Proposal.objects.values("status").annotate(n=Count("proposal_id"))
    counts = {s: 0 for s in ProposalStatus.values}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def proposal_find(*, number: int) -> Proposal | None:
    return Proposal.objects.filter(number=number).first()


def _weights(proposal: Proposal) -> dict[str, dict]:
    """Each vote with the stake it carries: the voter's stake now while open, as counted once tallied."""
    votes = list(Vote.objects.filter(proposal_number=proposal.number).order_by("-height", "voter"))
    stakes = dict(
        Account.objects.filter(address__in=[v.voter for v in votes]).values_list("address", "staked")
    )
    return {v.voter: {"vote": v, "stake": stakes.get(v.voter, 0)} for v in votes}


def proposal_tally(*, proposal: Proposal) -> dict:
    """Yes / no / abstain stake, the quorum's progress and whether it would pass now.

    While voting runs this is a projection (current stakes); after the tally it is the
    block's own count, stored on the proposal.
    """
    return proposal_tallies(proposals=[proposal])[proposal.number]


def proposal_tallies(*, proposals: list[Proposal]) -> dict[int, dict]:
    """proposal_tally of each proposal, by number: three queries however many are open."""
    open_numbers = [p.number for p in proposals if p.status == ProposalStatus.OPEN]
    votes = list(Vote.objects.filter(proposal_number__in=open_numbers)) if open_numbers else []
    stakes = dict(
        Account.objects.filter(address__in={v.voter for v in votes}).values_list("address", "staked")
    )
    total = total_staked() if open_numbers else 0
    stake = {number: {option: 0 for option in OPTIONS} for number in open_numbers}
    voters = dict.fromkeys(open_numbers, 0)
    for vote in votes:
        stake[vote.proposal_number][vote.option] += stakes.get(vote.voter, 0)
        voters[vote.proposal_number] += 1
    decided = {
        p.number: {"yes": p.yes_stake, "no": p.no_stake, "abstain": p.abstain_stake}
        for p in proposals
        if p.status != ProposalStatus.OPEN
    }
    return {
        p.number: _tally(p, stake[p.number], total, voters[p.number])
        if p.status == ProposalStatus.OPEN
        else _tally(p, decided[p.number], p.total_stake, p.voters)
        for p in proposals
    }


def _tally(proposal: Proposal, stake: dict[str, int], total: int, voters: int) -> dict:
    voted = sum(stake.values())
    return {
        **{f"{option}_stake": stake[option] for option in OPTIONS},
        **{f"{option}_ppm": _ppm(stake[option], total) for option in OPTIONS},
        #: Each option's share of the stake that voted: what the tally bar draws.
        **{f"{option}_vote_ppm": _ppm(stake[option], sum(stake.values())) for option in OPTIONS},
        "voted_stake": voted,
        "total_stake": total,
        "voters": voters,
        "turnout_ppm": _ppm(voted, total),
        "yes_share_ppm": _ppm(stake["yes"], stake["yes"] + stake["no"]),
        "quorum_ppm": proposal.quorum_ppm,
        "threshold_ppm": proposal.threshold_ppm,
        "quorum_reached": r.reaches_quorum(
            voted_stake=voted, total_stake=total, quorum_ppm=proposal.quorum_ppm
        ),
        "passing": r.tally_outcome(
            yes=stake["yes"],
            no=stake["no"],
            abstain=stake["abstain"],
            total=total,
            quorum_ppm=proposal.quorum_ppm,
            threshold_ppm=proposal.threshold_ppm,
        )
        == "passed",
    }


def proposal_votes(*, proposal: Proposal) -> list[dict]:
    """Votes newest first, each with its weight (see _weights)."""
    weights = _weights(proposal)
    return [{"vote": entry["vote"], "stake": entry["stake"]} for entry in weights.values()]


def vote_of(*, proposal: Proposal, address: str) -> Vote | None:
    return Vote.objects.filter(proposal_number=proposal.number, voter=address).first()


def action_args(proposal: Proposal) -> dict:
    return json.loads(proposal.action_args)


def votes_list(*, proposal_number: int | None = None, voter: str | None = None):
    votes = Vote.objects.all()
    if proposal_number is not None:
        votes = votes.filter(proposal_number=proposal_number)
    if voter is not None:
        votes = votes.filter(voter=voter)
    return votes


# --- validators ---------------------------------------------------------------------


def validators_overview(*, window: int = UPTIME_WINDOW) -> list[dict]:
    """Every validator with stake, record, uptime over the latest ``window`` blocks and last block signed."""
    validators = list(Validator.objects.order_by("-active", "-authority", "name"))
    stakes = dict(
        Account.objects.filter(address__in=[v.public_key for v in validators]).values_list(
            "address", "staked"
        )
    )
    recent = list(Block.objects.order_by("-height").values_list("height", "commit_certificate")[:window])
    signed_recent = {v.public_key: 0 for v in validators}
    for _, certificate in recent:
        for key in {p.get("validator") for p in certificate or []}:
            if key in signed_recent:
                signed_recent[key] += 1
    me = node_address()
    off = not_mining_keys()
    rows = []
    for v in validators:
        last = (
            Block.objects.filter(commit_certificate__contains=[{"validator": v.public_key}])
            .order_by("-height")
            .values_list("height", "timestamp_ms")
            .first()
        )
        rows.append(
            {
                "validator": v,
                "stake": stakes.get(v.public_key, 0),
                "uptime_ppm": _ppm(signed_recent[v.public_key], len(recent)),
                "window": len(recent),
                "last_seen_height": last[0] if last else None,
                "last_seen_at": datetime.fromtimestamp(last[1] / 1000, tz=UTC) if last else None,
                "is_this_site": v.public_key == me,
                "mining": v.public_key not in off,
            }
        )
    return rows


def validator_find(*, public_key: str) -> Validator | None:
    return Validator.objects.filter(public_key=public_key).first()


def validator_audit(*, limit: int = 100):
    """Validator administration on chain: authority actions, and stake changes of validator keys."""
    keys = list(Validator.objects.values_list("public_key", flat=True))
    return (
        ChainTx.objects.filter(
            Q(kind__in=ADMIN_KINDS)
            | Q(kind__in=("stake_bond", "stake_unbond", "validator_set_mining"), sender__in=keys)
        )
        .select_related("block")
        .order_by("-block_id", "-position")[:limit]
    )


def _fetch_status(url: str) -> dict:
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/v1/status/", timeout=HEALTH_TIMEOUT_S)
        response.raise_for_status()
        body = response.json()
        return {
            "reachable": True,
            "height": body.get("height"),
            "last_block_at": body.get("last_block_at"),
            "mempool_size": body.get("mempool_size"),
            "peers": body.get("peers"),
            "chain_id": body.get("chain_id"),
            "error": "",
        }
    except (httpx.HTTPError, ValueError) as exc:
        return {"reachable": False, "height": None, "last_block_at": None, "error": type(exc).__name__}


def own_health() -> dict:
    """This site's status as its peers would read it from /api/v1/status/."""
    from chain.selectors import node_status

    status = node_status()
    return {
        "reachable": True,
        "error": "",
        **{k: status.get(k) for k in ("height", "last_block_at", "mempool_size", "peers")},
    }


def node_health(*, urls: list[str]) -> dict[str, dict]:
    """GET <url>/api/v1/status/ of each peer site, in parallel; cached HEALTH_CACHE_S seconds.

    A site that does not answer within HEALTH_TIMEOUT_S is unreachable: the whole
    call takes about that long at worst, however many sites are down.
    """
    found = cache.get_many([f"gov:health:{u}" for u in urls])
    health = {u: found[f"gov:health:{u}"] for u in urls if f"gov:health:{u}" in found}
    missing = [u for u in urls if u not in health]
    if missing:
        pool = ThreadPoolExecutor(max_workers=min(8, len(missing)))
        futures = {u: pool.submit(_fetch_status, u) for u in missing}
        wait(futures.values(), timeout=HEALTH_TIMEOUT_S + 0.5)
        pool.shutdown(wait=False, cancel_futures=True)
        for url, future in futures.items():
            result = (
                future.result() if future.done() else {"reachable": False, "height": None, "error": "timeout"}
            )
            result["checked_at"] = datetime.now(tz=UTC).isoformat()
            health[url] = result
        cache.set_many({f"gov:health:{u}": health[u] for u in missing}, HEALTH_CACHE_S)
    return health


def total_staked_of(*, address: str) -> int:
    return Account.objects.filter(address=address).values_list("staked", flat=True).first() or 0
