"""The state of each access-point day of one channel as known at ``as_of`` (shared by indicators 2 and 3).

Per (``ap``, ``day``) it counts the slots of the day's grid (seed 000 §6.2.4):

- ``present``: slots with a *current* value, i.e. a non-rejected version recorded at or before ``as_of``;
- ``estimated``: slots whose current value — the latest non-rejected version — is estimated (a measured
  and an estimated version recorded at the same instant: the measured one is current);
- ``measured``: slots with a measured version;
- ``by_d1`` … ``by_d3``: slots whose first measured version was recorded before ``deadline_1`` …
  ``deadline_3`` of the day (the day table's columns).

A value fills a slot when its ``start`` and ``minutes`` equal a grid slot's; the tariff is a label of the
slot, so versions under different tariffs of one start are versions of one slot.

How, exactly and fast: most slots hold a single version, and grouping a million access points' quarter
hours slot by slot is the costly step. So the versions are first counted per (``ap``, ``day``, chunk),
a chunk being 48 consecutive slots of the day in start order, and each version adds ``2**(index mod
48)`` to the chunk's ``bits``. A sum of n powers of two has n bits set exactly when the n are all
different (every carry clears a bit), so a chunk whose ``bits`` has as many bits set as it has versions
holds one version per slot, and its counts per version are its counts per slot. Only the other
chunks are grouped slot by slot. (The sums are exact below 65,536 versions per chunk.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import ibis

from kwartier.domain.channels import Channel, ReadingStatus
from kwartier.quality.population import DEADLINE_PREFIX, as_of_literal
from kwartier.schema import AP, CHANNEL, DAY, MINUTES, RECORDED_AT, START, STATUS

HORIZONS = 3  # D+1, D+2, D+3
CHUNK_SLOTS = 48
CHUNK = "chunk"
BIT = "bit"
BITS = "bits"
VERSIONS = "versions"
PRESENT = "present"
ESTIMATED = "estimated"
MEASURED = "measured"
BY = tuple(f"by_d{n}" for n in range(1, HORIZONS + 1))
COUNTS = (PRESENT, ESTIMATED, MEASURED, *BY)

_DEADLINES = tuple(f"{DEADLINE_PREFIX}{n}" for n in range(1, HORIZONS + 1))


@contextmanager
def day_states(versions: Any, grid: Any, days: Any, channel: Channel, as_of: datetime) -> Iterator[Any]:
    """Materialise the per-(``ap``, ``day``) counts of ``channel`` on the backend; release them after use.

    ``grid``: the expected slots (``day``, ``start``, ``minutes``); ``days``: the day table with
    ``deadline_1`` … ``deadline_3``. Yields a table with ``ap``, ``day`` and the columns of ``COUNTS``.
    """
    located = _located_versions(versions, grid, days, channel, as_of)
    with _chunk_counts(located).cache() as chunks, _combined(located, chunks).cache() as states:
        yield states


def _located_versions(versions: Any, grid: Any, days: Any, channel: Channel, as_of: datetime) -> Any:
    """Non-rejected versions of ``channel`` known at ``as_of``, with their day, chunk, bit and deadlines."""
    index = ibis.row_number().over(group_by=grid[DAY], order_by=grid[START])
    slots = grid.mutate(_index=index)
    slots = slots.select(
        DAY,
        START,
        MINUTES,
        **{CHUNK: slots._index // CHUNK_SLOTS, BIT: ibis.literal(1, "int64") << (slots._index % CHUNK_SLOTS)},
    )
    known = versions.filter(
        versions[CHANNEL] == channel.value,
        versions[RECORDED_AT] <= as_of_literal(as_of),
        versions[STATUS] != ReadingStatus.REJECTED.value,
    )
    on_grid = known.join(
        slots,
        [known[START] == slots[START], known[MINUTES].cast("int32") == slots[MINUTES].cast("int32")],
    ).select(known[AP], slots[DAY], slots[CHUNK], slots[BIT], known[START], known[STATUS], known[RECORDED_AT])
    dated = on_grid.join(days, DAY)
    return dated.select(AP, DAY, CHUNK, BIT, START, STATUS, RECORDED_AT, *_DEADLINES)


def _chunk_counts(located: Any) -> Any:
    """Per (``ap``, ``day``, chunk): versions, the bit sum and the counts taken per version."""
    measured = located[STATUS] == ReadingStatus.MEASURED.value
    return located.group_by([AP, DAY, CHUNK]).aggregate(
        **{
            VERSIONS: located.count(),
            BITS: located[BIT].sum(),
            ESTIMATED: located.count(where=located[STATUS] == ReadingStatus.ESTIMATED.value),
            MEASURED: located.count(where=measured),
        },
        **{
            by: located.count(where=measured & (located[RECORDED_AT] < located[deadline]))
            for by, deadline in zip(BY, _DEADLINES, strict=True)
        },
    )


def _combined(located: Any, chunks: Any) -> Any:
    """Per (``ap``, ``day``): the single-version chunks as counted, the others grouped slot by slot."""
    single = _bits_set(chunks[BITS]) == chunks[VERSIONS]
    simple = chunks.filter(single).select(
        AP, DAY, **{PRESENT: chunks[VERSIONS]}, **{name: chunks[name] for name in COUNTS[1:]}
    )
    several = located.semi_join(chunks.filter(~single), [AP, DAY, CHUNK])
    measured_at = several[RECORDED_AT]
    is_measured = several[STATUS] == ReadingStatus.MEASURED.value
    per_slot = several.group_by([AP, DAY, START, *_DEADLINES]).aggregate(
        first_measured=measured_at.min(where=is_measured),
        last_measured=measured_at.max(where=is_measured),
        last_estimated=measured_at.max(where=several[STATUS] == ReadingStatus.ESTIMATED.value),
    )
    first = per_slot.first_measured
    current_estimated = per_slot.last_estimated.notnull() & (
        per_slot.last_measured.isnull() | (per_slot.last_estimated > per_slot.last_measured)
    )
    grouped = per_slot.group_by([AP, DAY]).aggregate(
        **{
            PRESENT: per_slot.count(),
            ESTIMATED: per_slot.count(where=current_estimated),
            MEASURED: first.count(),
        },
        **{by: first.count(where=first < per_slot[d]) for by, d in zip(BY, _DEADLINES, strict=True)},
    )
    both = simple.union(grouped.select(AP, DAY, *COUNTS))
    return both.group_by([AP, DAY]).aggregate(**{name: both[name].sum() for name in COUNTS})


def _bits_set(value: Any) -> Any:
    """Number of bits set in a non-negative int64 column (the SWAR population count, exact)."""
    x = value - ((value >> 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
    x = x + (x >> 8)
    x = x + (x >> 16)
    x = x + (x >> 32)
    return x & 0x7F
