"""The meters' ledger records: registered meters, their readings, energy per slot.

All of them are part of the state root. Energy in Wh, power in W, money in
units (10^-6 token), times in Unix ms.
"""

from dataclasses import dataclass
from typing import ClassVar

from chain.ledger.state import register_table

RENEWABLE_KINDS = ("solar", "wind", "hydro", "biomass")
METER_KINDS = (*RENEWABLE_KINDS, "consumption")


@dataclass(frozen=True, slots=True)
class Meter:
    """A smart meter; its id is its ed25519 public key, the sender of its readings.

    ``last_window_start_ms``/``last_window_end_ms`` are the newest reading's window:
    a reading must start at or after the last end, so no energy is counted twice.
    ``reward_carry`` is the mint's remainder in 1/1000 units (see kinds.mint_units).
    """

    table: ClassVar[str] = "meter"
    meter_id: str
    owner: str
    region: str
    kind: str
    rated_capacity_w: int
    registered_by: str
    registered_height: int
    #: 0 while the meter may report; the height of its meter_revoke after.
    revoked_height: int
    last_window_start_ms: int
    last_window_end_ms: int
    readings: int
    import_wh_total: int
    export_wh_total: int
    minted_wh_total: int
    minted_units_total: int
    reward_carry: int

    @property
    def key(self) -> str:
        return self.meter_id

    @property
    def renewable(self) -> bool:
        return self.kind in RENEWABLE_KINDS


@dataclass(frozen=True, slots=True)
class Reading:
    """One verified reading; its id is the hash of the meter_reading transaction."""

    table: ClassVar[str] = "meter_reading"
    reading_id: str
    meter_id: str
    owner: str
    height: int
    delivery_slot_ms: int
    window_start_ms: int
    window_end_ms: int
    import_wh: int
    export_wh: int
    minted_wh: int
    minted_units: int

    @property
    def key(self) -> str:
        return self.reading_id


@dataclass(frozen=True, slots=True)
class SlotEnergy:
    """What one account's meters measured in one delivery slot: settlement's evidence."""

    table: ClassVar[str] = "meter_slot_energy"
    slot_energy_id: str
    owner: str
    delivery_slot_ms: int
    import_wh: int
    export_wh: int
    #: Export by renewable meters only (solar, wind, hydro, biomass).
    renewable_export_wh: int

    @property
    def key(self) -> str:
        return self.slot_energy_id

    @staticmethod
    def id_of(delivery_slot_ms: int, owner: str) -> str:
        return f"{delivery_slot_ms}:{owner}"


register_table(Meter)
register_table(Reading)
register_table(SlotEnergy)
