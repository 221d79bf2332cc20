"""The meters' ledger records: registered meters and their energy per delivery slot.

All of them are part of the state root. Energy in Wh, power in W, money in
units (10^-6 token), times in Unix ms. A reading itself is its transaction
(chain_chaintx keeps it with its receipt); its effects are on the Meter,
the owner's SlotEnergy and the owner's account.
"""

from dataclasses import dataclass
from typing import ClassVar

RENEWABLE_KINDS = ("solar", "wind", "hydro", "biomass")
METER_KINDS = (*RENEWABLE_KINDS, "consumption")
#: The source of a slot's renewable export that came from meters of several kinds.
MIXED_SOURCE = "mixed"


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

    def with_reading(
        self,
        start_ms: int,
        end_ms: int,
        import_wh: int,
        export_wh: int,
        minted_wh: int,
        minted_units: int,
        carry: int,
    ) -> "Meter":
        """The meter after one more accepted reading (spelled out: every reading pays for it)."""
        return Meter(
            self.meter_id,
            self.owner,
            self.region,
            self.kind,
            self.rated_capacity_w,
            self.registered_by,
            self.registered_height,
            self.revoked_height,
            start_ms,
            end_ms,
            self.readings + 1,
            self.import_wh_total + import_wh,
            self.export_wh_total + export_wh,
            self.minted_wh_total + minted_wh,
            self.minted_units_total + minted_units,
            carry,
        )


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
    #: The kind and region of the renewable meters that exported ("mixed" when kinds differ):
    #: what a certificate of this slot's unsold export says it is.
    renewable_source: str = ""
    zone: str = ""
    #: Renewable Wh of this slot certified so far (settlement.ledger.certificates): to P2P
    #: buyers at trade settlement, to the owner for the rest. Never more than the export.
    certified_wh: int = 0
    #: The slot while renewable export waits for its certificates, 0 after: settlement's index.
    uncertified_slot_ms: int = 0

    @property
    def key(self) -> str:
        return self.slot_energy_id

    @staticmethod
    def id_of(delivery_slot_ms: int, owner: str) -> str:
        return f"{delivery_slot_ms}:{owner}"

    @property
    def uncertified_wh(self) -> int:
        return self.renewable_export_wh - self.certified_wh
