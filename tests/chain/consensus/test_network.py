"""Four validator sites as real processes over HTTP on 127.0.0.1, each with its own database.

One network for the module; the tests run in order and each leaves every site
running (or brings it back). Waits are bounded polls, never timings. Under xdist the module
runs whole on one worker (``--dist loadfile``): split across two, each worker started a network
of its own, and the two, with the rest of the suite, overloaded a 2-core machine until sites
missed their waits.
"""

import json
import time

import httpx
import pytest

from chain.consensus.machine import PREVOTE, PROPOSAL, Message
from chain.consensus.messages import sign_message
from chain.consensus.peer_auth import request_headers
from chain.consensus.transport import gossip_envelope
from chain.ledger.block import BlockHeader
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of, new_signing_key
from chain.ledger.tx import parse_transaction, sign_transaction
from localnet.network import kill_site, restart_site, start_network, stop_network

CHAIN_ID = "gridtokenx-th-demo-1"
SENDER = "wind_korat"
RECIPIENT = address_of(demo_key("home_malee"))
WAIT_S = 120


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    sites = start_network(tmp_path_factory.mktemp("network"), block_interval_ms=250)
    yield {site.name: site for site in sites}
    stop_network(sites)


@pytest.fixture(scope="module")
def submitted():
    """Every transaction a test had accepted: none may be lost."""
    return []


def peer_post(site, path: str, body: dict, *, signer: str = "PEA") -> httpx.Response:
    """A request to a site's peer protocol, signed as a validator's site signs it."""
    content = json.dumps(body).encode()
    now_ms = time.time_ns() // 1_000_000
    signed = request_headers(
        demo_key(signer), method="POST", target=path, body=content, chain_id=CHAIN_ID, now_ms=now_ms
    )
    return site.post(path, content=content, headers={"content-type": "application/json", **signed})


class Sender:
    """Signs transfers from one account with consecutive nonces (each sent to one site)."""

    nonce = 0

    @classmethod
    def transfer(cls, amount: int = 1_000) -> dict:
        tx = sign_transaction(
            demo_key(SENDER),
            chain_id=CHAIN_ID,
            nonce=cls.nonce,
            kind="transfer",
            payload={"to": RECIPIENT, "amount": amount},
        )
        cls.nonce += 1
        return tx.to_wire()


def submit(site, submitted, count: int = 1) -> list[str]:
    wires = [Sender.transfer() for _ in range(count)]
    response = site.post("/api/v1/transactions/", json=wires)
    assert response.status_code == 202, response.text
    hashes = response.json()["hashes"]
    submitted.extend(hashes)
    return hashes


def committed_at(site, tx_hash: str) -> int | None:
    """The height of the block holding ``tx_hash`` at this site, or None while it is not final there."""
    try:
        response = site.get(f"/api/v1/transactions/{tx_hash}/")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    data = response.json()
    return data["block"]["height"] if data["status"] == "committed" else None


def wait_final(sites, tx_hashes: list[str]) -> dict[str, int]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        heights = {h: [committed_at(s, h) for s in sites] for h in tx_hashes}
        if all(all(x is not None for x in hs) for hs in heights.values()):
            return {h: hs[0] for h, hs in heights.items()}
        time.sleep(0.3)
    where = {}
    for site in sites:
        try:
            status = site.status()
            where[site.name] = {
                k: status.get(k) for k in ("height", "round", "step", "mempool_size", "peers_up")
            }
        except httpx.HTTPError as exc:
            where[site.name] = repr(exc)
    raise AssertionError(f"not final at every site within {WAIT_S}s: {heights}; sites: {where}")


def block_at(site, height: int) -> dict:
    response = site.get(f"/api/v1/blocks/{height}/")
    assert response.status_code == 200, response.text
    return response.json()


def assert_same_chain(sites, height: int) -> None:
    """Every site holds the same block at ``height`` (hash, and the state root it commits to)."""
    blocks = [block_at(site, height) for site in sites]
    assert len({b["hash"] for b in blocks}) == 1, blocks
    assert len({b["state_root"] for b in blocks}) == 1


def test_a_transaction_submitted_at_one_site_is_final_at_every_site(network, submitted):
    sites = list(network.values())
    hashes = submit(network["MEA"], submitted, 3)

    heights = wait_final(sites, hashes)

    for height in set(heights.values()):
        assert_same_chain(sites, height)
        certificate = block_at(network["EGAT"], height)["commit_certificate"]
        assert len({vote["validator"] for vote in certificate}) >= 3  # 3 of 4: more than 2/3 of the stake


def test_a_transaction_only_one_site_holds_is_fetched_by_the_others_and_final_everywhere(network, submitted):
    """Gossiped to PEA alone (a gossiped batch is not gossiped again): when PEA proposes it, the
    others lack its body, fetch it after their step, and vote. Its certificate holds three
    precommits, so at least two sites voted for a block whose body they had to fetch."""
    sites = list(network.values())
    holder = network["PEA"]
    wire = Sender.transfer()
    tx_hash = parse_transaction(wire).hash
    envelope = gossip_envelope(demo_key("PEA"), CHAIN_ID, [wire], [tx_hash])

    assert peer_post(holder, "/peer/v1/transactions/", envelope, signer="PEA").status_code == 200
    submitted.append(tx_hash)
    height = wait_final(sites, [tx_hash])[tx_hash]

    assert_same_chain(sites, height)
    certificate = block_at(network["EGAT"], height)["commit_certificate"]
    assert len({vote["validator"] for vote in certificate}) >= 3


def test_the_status_shows_consensus_and_every_peer_up(network):
    status = network["PEA"].status()
    assert status["peers"] == 3
    assert status["peers_up"] == 3
    assert status["active_validators"] == 4
    assert status["step"]


def test_a_later_nonce_sent_to_one_site_waits_there_for_its_predecessor_sent_to_another(network, submitted):
    """A client sends nonce n+1 to one site, then n to another: both commit, with no retry."""
    predecessor, successor = Sender.transfer(), Sender.transfer()
    later = network["EGAT"].post("/api/v1/transactions/", json=successor)
    assert later.status_code == 202, later.text
    assert later.json()["status"] == "held"
    earlier = network["PEA"].post("/api/v1/transactions/", json=predecessor)
    assert earlier.status_code == 202, earlier.text
    hashes = [earlier.json()["hashes"][0], later.json()["hashes"][0]]
    submitted.extend(hashes)

    wait_final(list(network.values()), hashes)


def test_with_one_validator_killed_the_others_commit_and_it_catches_up(network, submitted):
    sites = list(network.values())
    down = network["SIAM_TRADERS"]
    kill_site(down)
    others = [s for s in sites if s is not down]

    hashes = submit(network["EGAT"], submitted, 2)
    heights = wait_final(others, hashes)
    hashes += submit(network["PEA"], submitted, 1)
    heights.update(wait_final(others, hashes[-1:]))

    restart_site(down)
    wait_final([down], hashes)
    top = max(heights.values())
    assert_same_chain(sites, top)


def test_two_of_four_down_nothing_commits_until_one_returns(network, submitted):
    sites = list(network.values())
    down = [network["PEA"], network["MEA"]]
    for site in down:
        kill_site(site)
    up = [network["EGAT"], network["SIAM_TRADERS"]]
    before = up[0].status()["height"]

    hashes = submit(up[0], submitted, 1)
    # 6 s of propose/vote rounds without a quorum: no height may move meanwhile.
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        assert all(site.status()["height"] == before for site in up)
        time.sleep(0.5)

    restart_site(down[0])
    wait_final([*up, down[0]], hashes)
    restart_site(down[1])
    heights = wait_final(sites, hashes)
    assert_same_chain(sites, heights[hashes[0]])


def test_a_forged_vote_is_refused_and_changes_nothing(network):
    site = network["EGAT"]
    status = site.status()
    stranger = new_signing_key()
    forged = sign_message(
        stranger, CHAIN_ID, Message(PREVOTE, status["height"] + 1, 0, address_of(stranger), "")
    )
    impostor = {**forged, "sender": network["MEA"].public_key}  # MEA's name, someone else's signature

    response = peer_post(
        site, "/peer/v1/consensus/", {"chain_id": CHAIN_ID, "messages": [impostor], "blocks": []}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_message"
    unknown = peer_post(
        site, "/peer/v1/consensus/", {"chain_id": CHAIN_ID, "messages": [forged], "blocks": []}
    )
    assert unknown.json()["error"]["code"] == "not_a_validator"
    wrong_chain = peer_post(site, "/peer/v1/consensus/", {"chain_id": "other", "messages": [], "blocks": []})
    assert wrong_chain.status_code == 400
    unsigned = site.post("/peer/v1/consensus/", json={"chain_id": CHAIN_ID, "messages": [], "blocks": []})
    assert unsigned.status_code == 401


def test_a_tampered_block_is_refused_and_the_chain_goes_on(network, submitted):
    """A block with a changed transaction, proposed under a validator's real key, gets no votes."""
    sites = list(network.values())
    hashes = submit(network["EGAT"], submitted, 1)
    height = wait_final(sites, hashes)[hashes[0]]
    genuine = httpx.get(network["MEA"].url + "/peer/v1/blocks/", params={"from": height, "limit": 1}).json()
    body = genuine["blocks"][0]
    txs = [dict(tx) for tx in body["txs"]]
    txs[0]["payload"] = {**txs[0]["payload"], "amount": txs[0]["payload"]["amount"] * 1000}
    status = network["EGAT"].status()
    header = {
        **body["header"],
        "height": status["height"] + 1,
        "previous_hash": status["last_block_hash"],
        "state_root": status["state_root"],
        "timestamp_ms": int(time.time() * 1000),
    }
    tx_hashes = [parse_transaction(tx).hash for tx in txs]  # the tampered body is carried with them
    tampered_hash = BlockHeader(**header).hash
    proposer = next(s for s in sites if s.public_key == header["proposer"])
    proposal = sign_message(
        demo_key(proposer.name),
        CHAIN_ID,
        Message(PROPOSAL, header["height"], 0, proposer.public_key, tampered_hash, -1),
    )
    for site in sites:
        peer_post(
            site,
            "/peer/v1/consensus/",
            {
                "chain_id": CHAIN_ID,
                "messages": [proposal],
                "blocks": [{"header": header, "tx_hashes": tx_hashes, "txs": txs}],
            },
            signer=proposer.name,
        )

    later = submit(network["PEA"], submitted, 1)
    wait_final(sites, later)
    for site in sites:
        assert site.get(f"/api/v1/blocks/by-hash/{tampered_hash}/").status_code == 404
    assert_same_chain(sites, min(site.status()["height"] for site in sites))


def test_no_accepted_transaction_was_lost(network, submitted):
    assert submitted
    wait_final(list(network.values()), submitted)
