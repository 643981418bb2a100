"""A realistic, deterministic stream of market messages for a region (issue 3: the simulator's market).

Rules of the stream (rates chosen to look like a Flemish year, not taken from the seeds):
- every electricity access point first gets a move-in of its occupant on the start day;
- then, over ``days`` days in time order: supplier switches (42 %), move-outs (18 %) and move-ins of a
  new occupant (20 %), ends of supply without a successor, 30–40 days ahead (2 %), regime changes asked
  by the customer (8 %, SMR3 only on remotely read meters), the DSO's exchange of a classic meter for a
  digital one, with its closing and opening indexes (2 %; a regime change where the meter is already read
  remotely), PV registrations by the DSO notified 0–40 days earlier (5 %), and faulty messages (3 %):
  bad JSON, a switch for the wrong customer, a retroactive switch;
- withdrawals (``cancel``, by the process's sender, before its effective date): :data:`WITHDRAWN_SWITCHES`
  of the switches within the customer's 14-day cooling-off period (the supplier then stays the one
  before), and :data:`WITHDRAWN_ENDS` of the ends of supply within their notice period (the customer
  settled), never of a process on an access point whose occupant moved out; a withdrawal falls due a
  whole number of days after its request and is dropped where the access point got another message in
  between;
- a move on a meter that is not read remotely carries the index the customer read (day and night
  registers growing by :data:`DAILY_WH` a day from a level per access point); on other meters the
  register takes the remote reading;
- customers are opaque references (``C<n>``, ``C<n>-<k>``), never names; a new meter's serial is the
  old one with ``-D`` appended.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kwartier.market.codes import NOTICE_DAYS
from kwartier.registry import master_files as mf
from kwartier.registry.codes import MeterKind, PartyRole

_REMOTE = {MeterKind.DIGITAL.value, MeterKind.AMR.value}
DAILY_WH = {"offtake/day": 6_000, "offtake/night": 4_000}
"""Daily growth of a classic meter's registers in the stream's move indexes [Wh]."""
WITHDRAWN_SWITCHES = 0.03
"""Share of supplier switches the new supplier withdraws within the cooling-off period."""
WITHDRAWN_ENDS = 0.10
"""Share of ends of supply their supplier withdraws within the notice period."""
COOLING_OFF_DAYS = 14
"""A consumer's right of withdrawal from a distance contract [days] (Code of Economic Law art. VI.47)."""


@dataclass(frozen=True)
class Market:
    """Who is in the market: electricity access points (with the serial of their meter and whether it is
    read remotely), the suppliers, a balance responsible party and the DSO (GLN-13 codes)."""

    eans: Sequence[str]
    remote: Sequence[bool]
    serials: Sequence[str]
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
        meters["valid_from"].to_pylist(),
        meters["ean"].to_pylist(),
        meters["kind"].to_pylist(),
        meters["serial"].to_pylist(),
        strict=True,
    )
    last = {ean: (kind, serial) for _, ean, kind, serial in sorted(installed)}  # the meter installed last
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
        electricity,
        [last.get(ean, ("", ""))[0] in _REMOTE for ean in electricity],
        [last.get(ean, ("", ""))[1] for ean in electricity],
        suppliers,
        brps[0],
        dsos[0],
    )


def market_stream(market: Market, messages: int, start: date, days: int = 360, seed: int = 7) -> list[str]:
    """``messages`` market messages (JSON lines, in time order) of the stream in the module docstring."""
    rng = random.Random(seed)
    withdrawing = random.Random(seed + 1)  # its own draws, so the other messages stay as they were
    count = len(market.eans)
    occupant = [f"C{n}" for n in range(count)]
    supplier = [market.suppliers[n % len(market.suppliers)] for n in range(count)]
    remote = list(market.remote)
    serial = list(market.serials)
    lines: list[str] = []
    latest = [-1] * count  # per access point the line of its latest message
    vacant = [False] * count  # moved out, no new occupant yet: a switch is refused, so never withdrawn
    # planned withdrawals, a heap: (due, line of the process, access point, sender, supplier before)
    withdrawals: list[tuple[datetime, int, int, str, str | None]] = []

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
        latest[number] = len(lines)
        lines.append(json.dumps(document))

    def index(number: int, day: date) -> dict[str, dict[str, int]]:
        """The customer's reading for a move on day ``day``, where the meter is not read remotely."""
        if remote[number]:
            return {}
        elapsed = (day - start).days
        return {"index": {name: 10_000_000 + 997 * number + elapsed * wh for name, wh in DAILY_WH.items()}}

    def move(type_: str, number: int, received: datetime, **fields: Any) -> None:
        """A move-in or move-out of the access point's occupant on the day received, by its supplier."""
        day = received.date()
        add(
            type_,
            number,
            supplier[number],
            received,
            customer=occupant[number],
            move_date=day.isoformat(),
            **fields,
            **index(number, day),
        )

    def withdraw(received: datetime, number: int, days: int, before: str | None) -> None:
        """Plan the withdrawal of the process just added, by its sender, ``days`` days after
        ``received``."""
        due = received + timedelta(days=days)
        heapq.heappush(withdrawals, (due, len(lines) - 1, number, supplier[number], before))

    def withdrawals_due(moment: datetime) -> None:
        """Add the planned withdrawals due by ``moment`` whose access point got no message since."""
        while withdrawals and withdrawals[0][0] <= moment and len(lines) < messages:
            due, line, number, sender, before = heapq.heappop(withdrawals)
            if latest[number] != line:
                continue
            add("cancel", number, sender, due, process_id=f"sim-{seed}-{line}")
            if before is not None:
                supplier[number] = before

    first = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    for n in range(min(count, messages)):
        move("move_in", n, first + timedelta(seconds=n % 3600), brp=market.brp)
    rest = messages - len(lines)
    for i in range(rest):
        received = first + timedelta(days=1, seconds=int(i * days * 86_400 / max(rest, 1)))
        withdrawals_due(received)
        if len(lines) >= messages:
            break
        today = received.date()
        n = rng.randrange(count)
        roll = rng.random()
        lead = rng.randint(1, 30)
        ahead = (today + timedelta(days=lead)).isoformat()
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
            before, supplier[n] = supplier[n], new
            if lead > 1 and not vacant[n] and withdrawing.random() < WITHDRAWN_SWITCHES:
                withdraw(received, n, withdrawing.randint(1, min(COOLING_OFF_DAYS, lead - 1)), before)
        elif roll < 0.63:
            move("move_out", n, received)
            vacant[n] = True
        elif roll < 0.83:
            vacant[n] = False
            occupant[n] = f"C{n}-{i}"
            supplier[n] = rng.choice(market.suppliers)
            move("move_in", n, received, brp=market.brp)
        elif roll < 0.85:
            end = today + timedelta(days=NOTICE_DAYS + rng.randint(1, 10))
            add("end_of_supply", n, supplier[n], received, end_date=end.isoformat())
            if not vacant[n] and withdrawing.random() < WITHDRAWN_ENDS:
                withdraw(received, n, withdrawing.randint(1, NOTICE_DAYS), None)
        elif roll < 0.87 and not remote[n] and serial[n]:
            add(
                "meter_exchange",
                n,
                market.dso,
                received,
                exchange_date=today.isoformat(),
                old_serial=serial[n],
                closing_index=index(n, today)["index"],
                new_serial=f"{serial[n]}-D",
                new_kind=MeterKind.DIGITAL.value,
                opening_index=dict.fromkeys(DAILY_WH, 0),
            )
            remote[n], serial[n] = True, f"{serial[n]}-D"
        elif roll < 0.95:
            regime = rng.choice(["SMR1", "SMR3"]) if remote[n] else "SMR1"
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
