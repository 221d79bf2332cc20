"""Genesis files for local networks: the demo genesis, with the validators a test wants active."""

import tomllib
import uuid
from pathlib import Path

from localnet import BASE_DIR

DEMO_GENESIS = BASE_DIR / "thai_market.toml"


def genesis_with_active(source: Path, active: list[str], out: Path) -> Path:
    """Write ``source`` to ``out`` with exactly the validators named in ``active`` active.

    Only the ``active = ...`` lines of [[validators]] tables change, so comments
    and every other value stay as the source has them.
    """
    text = source.read_text()
    known = [v["name"] for v in tomllib.loads(text)["validators"]]
    unknown = set(active) - set(known)
    if unknown:
        raise ValueError(f"{source.name} has no validator named {sorted(unknown)}")
    lines = text.splitlines(keepends=True)
    result: list[str] = []
    block: list[str] | None = None  # lines of the current [[validators]] table

    def flush():
        if block is None:
            return
        name = next(tomllib.loads(line)["name"] for line in block if line.split("=")[0].strip() == "name")
        value = "true" if name in active else "false"
        has_active = False
        for line in block:
            if line.split("=")[0].strip() == "active":
                result.append(f"active = {value}\n")
                has_active = True
            else:
                result.append(line)
        if not has_active:
            result.append(f"active = {value}\n")

    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            flush()
            block = [line] if stripped == "[[validators]]" else None
            if block is None:
                result.append(line)
        elif block is not None:
            block.append(line)
        else:
            result.append(line)
    flush()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
    partial.write_text("".join(result))
    partial.replace(out)  # atomic: concurrent writers of the same file never read half of it
    return out


def solo_genesis(tmp: Path, *, source: Path = DEMO_GENESIS, name: str = "EGAT") -> Path:
    """The demo genesis with only ``name`` active: one site is then a whole network.

    Single-site tests use it, so they keep one validator whatever the demo genesis activates.
    """
    return genesis_with_active(source, [name], Path(tmp) / "solo_genesis.toml")


def active_validators(genesis: Path) -> list[dict]:
    """The active [[validators]] tables of a genesis file, in file order."""
    return [v for v in tomllib.loads(Path(genesis).read_text())["validators"] if v["active"]]
