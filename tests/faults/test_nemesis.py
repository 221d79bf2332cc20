"""The nemesis's schedule, the checker's quorum rule, and one short fault run (docs/FAULTS.md).

The short run starts the four demo sites in network namespaces, so it needs root,
``ip netns``, socat and gcc (``make test`` installs the last two when missing).
``GTX_FAULT_SEED`` replays a seed; otherwise each run draws one and prints it.
"""

import os
import random
import shutil

import pytest

from faults.checker import quorum_could_talk
from faults.nemesis import FAULT_KINDS, Phase, schedule
from faults.run import SHORT_PHASES, fault_run
from localnet.genesis_files import DEMO_GENESIS, active_validators

VALIDATORS = active_validators(DEMO_GENESIS)
NAMES = [v["name"] for v in VALIDATORS]
STAKES = {v["name"]: v["stake"] for v in VALIDATORS}
AUTHORITIES = {v["name"] for v in VALIDATORS if v.get("authority")}
SHORT_RUN_S = 35


def plan(seed: int, seconds: float = 120) -> list[Phase]:
    return schedule(seed, seconds=seconds, names=NAMES, authorities=sorted(AUTHORITIES))


def test_the_same_seed_gives_the_same_schedule():
    assert plan(7) == plan(7)
    assert plan(7) != plan(8)


def test_a_long_schedule_meets_every_kind_of_fault_and_ends_calm():
    phases = plan(3)
    kinds = {p.name.split("(")[0] for p in phases}
    assert set(FAULT_KINDS) <= kinds
    assert phases[0].name == phases[-1].name == "calm"


def test_clock_skew_goes_forward_and_back_beyond_the_allowed_drift():
    skews = [p.clock_ms for p in plan(3) if p.clock_ms]
    offsets = [offset for skew in skews for offset in skew.values()]
    assert any(o > 5_000 for o in offsets) and any(o < -5_000 for o in offsets)


def test_a_quorum_needs_two_thirds_of_the_stake_and_an_authority_all_talking():
    everyone = Phase("calm", 1)
    lone_authority = Phase("cut", 1, blocked=tuple(("EGAT", n) for n in NAMES if n != "EGAT"))
    halves = Phase("cut", 1, blocked=tuple((a, b) for a in ("EGAT", "MEA") for b in ("PEA", "SIAM_TRADERS")))
    two_down = Phase("kill", 1, down=("MEA",), clock_ms={"PEA": 9_000})

    assert quorum_could_talk(everyone, STAKES, AUTHORITIES)
    assert quorum_could_talk(lone_authority, STAKES, AUTHORITIES)  # MEA, PEA, SIAM_TRADERS
    assert not quorum_could_talk(halves, STAKES, AUTHORITIES)
    assert not quorum_could_talk(two_down, STAKES, AUTHORITIES)


def test_a_jailed_site_leaves_the_quorum_it_no_longer_votes_in():
    """After PEA is jailed the voting set is EGAT, MEA and SIAM_TRADERS: cutting MEA off
    leaves EGAT and SIAM_TRADERS, short of 2/3 of what still votes."""
    mea_cut_off = Phase("cut", 1, blocked=tuple(("MEA", n) for n in NAMES if n != "MEA"))
    jailed = {n: s for n, s in STAKES.items() if n != "PEA"}

    assert quorum_could_talk(mea_cut_off, STAKES, AUTHORITIES)
    assert not quorum_could_talk(mea_cut_off, jailed, AUTHORITIES - {"PEA"})


@pytest.mark.live
@pytest.mark.faults
@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
@pytest.mark.skipif(not shutil.which("socat") or not shutil.which("gcc"), reason="needs socat and gcc")
def test_under_faults_nothing_acknowledged_is_lost_and_the_sites_agree(tmp_path):
    seed = int(os.environ.get("GTX_FAULT_SEED") or random.SystemRandom().randrange(1_000_000))
    print(f"GTX_FAULT_SEED={seed}")

    verdict = fault_run(seconds=SHORT_RUN_S, seed=seed, tmp=tmp_path, settle_s=120, **SHORT_PHASES)

    assert verdict.acked > 0, verdict.summary()
    assert verdict.safe, f"seed {seed}:\n{verdict.summary()}"
