"""Who an exported series belongs to: the meter and energy of an access point, from the registry."""

from __future__ import annotations

import pyarrow as pa
import sqlalchemy as sa

from kwartier.domain.channels import Channel, Energy, energy_of
from kwartier.registry.access_points import AccessPoint
from kwartier.registry.database import open_registry, upgrade
from kwartier.registry.meters import Meter, MeterInstallation


def access_point_identity(registry_url: str, ean: str, readings: pa.Table) -> tuple[str, Energy]:
    """(meter serial, energy) of ``ean``: the latest installed meter in the registry.

    An access point the registry does not know (data imported from a customer export) gets an empty
    serial and the energy of its channels.
    """
    upgrade(registry_url)
    sessions = open_registry(registry_url)
    with sessions() as session:
        point = session.get(AccessPoint, ean)
        serial = session.execute(
            sa.select(Meter.serial)
            .join(MeterInstallation, Meter.id == MeterInstallation.meter_id)
            .where(MeterInstallation.ean == ean)
            .order_by(MeterInstallation.valid_from.desc())
            .limit(1)
        ).scalar_one_or_none()
    if point is not None:
        return serial or "", point.energy
    channels = set(readings.column("channel").to_pylist())
    energy = energy_of(Channel(channels.pop())) if channels else Energy.ELECTRICITY
    return "", energy
