"""A realistic, deterministic stream of market messages for a region (issue 3: the simulator's market).

Rules of the stream (rates chosen to look like a Flemish year, not taken from the seeds):
- every electricity access point first gets a move-in of its occupant on the start day;
- then, over ``days`` days in time order: supplier switches (42 %), move-outs (20 %) and move-ins of a
  new occupant (20 %), regime changes asked by the customer (10 %, SMR3 only on remotely read meters),
  PV registrations by the DSO notified 0–40 days earlier (5 %), and faulty messages (3 %): bad JSON, a
  switch for the wrong customer, a retroactive switch;
- customers are opaque references (``C<n>``, ``C<n>-<k>``), never names.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kwartier.registry import master_files as mf
from kwartier.registry.codes import MeterKind, PartyRole

_REMOTE = {MeterKind.DIGITAL.value, MeterKind.AMR.value}


@dataclass(frozen=True)
class Market:
    """Who is in the market: electricity access points (with whether their meter is read remotely), the
    suppliers, a balance responsible party and the DSO (GLN-13 codes)."""

    eans: Sequence[str]
    remote: Sequence[bool]
    suppliers: Sequence[str]
    brp: str
    dso: str


def market_of(master_dir: Path) -> Market:
    """The :class:`Market` of a folder of master-data files (e.g. ``kwartier simulate``'s ``master/``)."""
    points = mf.read_access_points(master_dir)
    electricity = [
        ean
        for ean, energy in zip(points["ean"].to_pylist(), points["energy"].to_pylist(), strict=True)
        if energy == "electricity"
    ]
    meters = mf.read_meters(master_dir)
    installed = zip(
        meters["valid_from"].to_pylist(), meters["ean"].to_pylist(), meters["kind"].to_pylist(), strict=True
    )
    kinds = {ean: kind for _, ean, kind in sorted(installed)}  # the meter installed last
    roles = mf.read_party_roles(mf.read_parties(master_dir))
    by_role: dict[str, list[str]] = {}
    for code, role in zip(roles["code"].to_pylist(), roles["role"].to_pylist(), strict=True):
        by_role.setdefault(role, []).append(code)
    suppliers = sorted(by_role.get(PartyRole.SUPPLIER.value, []))
    brps = sorted(by_role.get(PartyRole.BRP.value, []))
    dsos = sorted(by_role.get(PartyRole.DSO.value, []))
    if not (electricity and suppliers and brps and dsos):
        raise ValueError(
            f"{master_dir}: a market needs electricity access points, a supplier, a BRP and a DSO"
        )
    return Market(
        electricity, [kinds.get(ean) in _REMOTE for ean in electricity], suppliers, brps[0], dsos[0]
    )


def market_stream(market: Market, messages: int, start: date, days: int = 360, seed: int = 7) -> list[str]:
    """``messages`` market messages (JSON lines, in time order) of the stream in the module docstring."""
    rng = random.Random(seed)
    count = len(market.eans)
    occupant = [f"C{n}" for n in range(count)]
    supplier = [market.suppliers[n % len(market.suppliers)] for n in range(count)]
    lines: list[str] = []

    def add(type_: str, number: int, sender: str, received: datetime, **fields: Any) -> None:
        document = {
            "type": type_,
            "version": 1,
            "message_id": f"sim-{seed}-{len(lines)}",
            "sender": sender,
            "received_at": received.isoformat(),
            "ean": market.eans[number],
            **fields,
        }
        lines.append(json.dumps(document))

    first = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    for n in range(min(count, messages)):
        add(
            "move_in",
            n,
            supplier[n],
            first + timedelta(seconds=n % 3600),
            customer=occupant[n],
            move_date=start.isoformat(),
            brp=market.brp,
        )
    rest = messages - len(lines)
    for i in range(rest):
        received = first + timedelta(days=1, seconds=int(i * days * 86_400 / max(rest, 1)))
        today = received.date()
        n = rng.randrange(count)
        roll = rng.random()
        ahead = (today + timedelta(days=rng.randint(1, 30))).isoformat()
        if roll < 0.01:
            lines.append('{"type": "switch_request", "version": 1, "message_id": ')  # cut off
        elif roll < 0.02:
            add(
                "switch_request",
                n,
                market.suppliers[0],
                received,
                customer="nobody",
                consent_date=today.isoformat(),
                effective_date=ahead,
                brp=market.brp,
            )
        elif roll < 0.03:
            add(
                "switch_request",
                n,
                market.suppliers[-1],
                received,
                customer=occupant[n],
                consent_date=today.isoformat(),
                effective_date=(today - timedelta(days=3)).isoformat(),
                brp=market.brp,
            )
        elif roll < 0.45 and len(market.suppliers) > 1:
            new = rng.choice([s for s in market.suppliers if s != supplier[n]])
            add(
                "switch_request",
                n,
                new,
                received,
                customer=occupant[n],
                consent_date=today.isoformat(),
                effective_date=ahead,
                brp=market.brp,
            )
            supplier[n] = new
        elif roll < 0.65:
            add("move_out", n, supplier[n], received, customer=occupant[n], move_date=today.isoformat())
        elif roll < 0.85:
            occupant[n] = f"C{n}-{i}"
            supplier[n] = rng.choice(market.suppliers)
            add(
                "move_in",
                n,
                supplier[n],
                received,
                customer=occupant[n],
                move_date=today.isoformat(),
                brp=market.brp,
            )
        elif roll < 0.95:
            regime = rng.choice(["SMR1", "SMR3"]) if market.remote[n] else "SMR1"
            add(
                "regime_change_request",
                n,
                supplier[n],
                received,
                regime=regime,
                effective_date=ahead,
                requested_by="customer",
            )
        else:
            add(
                "production_registration",
                n,
                market.dso,
                received,
                kind="pv",
                kva=round(rng.uniform(2, 9), 1),
                commissioned_on=(today - timedelta(days=rng.randint(0, 40))).isoformat(),
                notified_on=(today - timedelta(days=rng.randint(0, 40))).isoformat(),
            )
    return lines
