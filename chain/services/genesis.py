"""The chain's set-up on this site: the genesis state, and demo logins for its accounts."""

from django.contrib.auth import get_user_model
from django.db import transaction

from chain.ledger.genesis import Genesis, demo_key
from chain.ledger.state import ACCUMULATOR_MOD, leaf_value, state_root
from chain.models import ChainHead
from chain.services.wallets import wallet_create
from chain.store import write_records


class ChainAlreadyInitialised(Exception):
    pass


def chain_init(genesis: Genesis) -> ChainHead:
    """Write the genesis state. Running it again with the same genesis changes nothing."""
    with transaction.atomic():
        head = ChainHead.objects.select_for_update().first()
        if head is not None:
            if head.genesis_hash != genesis.hash:
                raise ChainAlreadyInitialised(
                    f"This database holds chain {head.chain_id} from another genesis "
                    f"({head.genesis_hash[:12]}…); use a fresh database."
                )
            return head
        records = genesis.records()
        by_table: dict[str, list] = {}
        for record in records:
            by_table.setdefault(record.table, []).append(record)
        write_records(by_table)
        accumulator = sum(leaf_value(r.table, r) for r in records) % ACCUMULATOR_MOD
        return ChainHead.objects.create(
            chain_id=genesis.chain_id,
            genesis_hash=genesis.hash,
            params=genesis.params,
            height=0,
            block_hash=genesis.hash,
            accumulator=accumulator.to_bytes(256, "big").hex(),
            state_root=state_root(accumulator),
            total_supply=sum(r.total_tokens for r in by_table.get("account", [])),
        )


def demo_users_create(genesis: Genesis, password: str) -> list[str]:
    """Demo logins for genesis accounts (keys from public demo seeds) and a staff admin."""
    User = get_user_model()
    created = []
    for entry in genesis.accounts:
        user, new = User.objects.get_or_create(
            username=entry["username"], defaults={"first_name": entry["display_name"][:150]}
        )
        if new:
            user.set_password(password)
            user.save(update_fields=["password"])
            wallet_create(
                user=user, role=entry["role"], region=entry["region"], key=demo_key(entry["username"])
            )
            created.append(entry["username"])
    admin, new = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    if new:
        admin.set_password(password)
        admin.save(update_fields=["password"])
        created.append("admin")
    return created
