"""The chain's read path: what pages, the API and commands show."""

from django.db.models import Sum

from chain.models import Account, Block, ChainHead, ChainTx, MempoolTx, Validator


def chain_head() -> ChainHead:
    return ChainHead.objects.get()


def node_status() -> dict:
    from django.conf import settings

    from chain.node import node_address

    head = chain_head()
    me = node_address()
    peers = Validator.objects.filter(active=True).exclude(public_key=me)
    return {
        "chain_id": head.chain_id,
        "node_type": settings.GTX_NODE_TYPE,
        "node_address": me,
        "height": head.height,
        "last_block_hash": head.block_hash,
        "last_block_at": head.last_block_at.isoformat() if head.last_block_at else None,
        "state_root": head.state_root,
        "mempool_size": MempoolTx.objects.count(),
        "peers": peers.count(),
        "active_validators": Validator.objects.filter(active=True).count(),
    }


def blocks_latest(limit: int = 20):
    return Block.objects.order_by("-height")[:limit]


def account_history(address: str, limit: int = 50):
    return ChainTx.objects.filter(parties__contains=[address]).order_by("-block_id", "-position")[:limit]


def pending_for(address: str):
    return MempoolTx.objects.filter(sender=address).order_by("nonce")


def supply_total() -> int:
    totals = Account.objects.aggregate(
        balance=Sum("balance"), staked=Sum("staked"), unbonding=Sum("unbonding"), escrow=Sum("escrow_tokens")
    )
    return sum(v or 0 for v in totals.values())
