"""Bar charts drawn on the server as SVG geometry (issue 6: charts served by the application, fast on a
slow phone: no script, no external library).

Rules:
- offtake is drawn above the axis and injection below it, on one scale: the larger of the two maxima;
- an estimated or partly estimated value is drawn hatched and marked with a dot above (or below) its bar,
  so the difference never rests on colour alone; the template also says it in text and gives the values
  as a table;
- a bar's height is proportional to its value; a value of zero draws no bar but keeps its slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

WIDTH: Final = 960
HEIGHT: Final = 400
PAD_LEFT: Final = 8
PAD_RIGHT: Final = 8
PAD_TOP: Final = 48  # room for the scale label above the bars
PAD_BOTTOM: Final = 44  # room for the axis labels
MARKER_GAP: Final = 7


@dataclass(frozen=True)
class Point:
    """One slot of a chart: its label, offtake and injection [Wh] and whether either is estimated."""

    label: str
    offtake_wh: int
    injection_wh: int
    estimated: bool
    tick: str | None = None  # axis label under this slot, if any


@dataclass(frozen=True)
class Bar:
    """A drawn bar in SVG user units; ``marker_y`` is where the estimate dot goes (None: measured)."""

    x: float
    y: float
    width: float
    height: float
    channel: str  # "offtake" or "injection"
    estimated: bool
    marker_y: float | None
    title: str


@dataclass(frozen=True)
class Tick:
    """An axis label at ``x``."""

    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    """Everything a template needs to draw a chart."""

    width: int
    height: int
    axis_y: float
    top: float
    bottom: float
    left: float
    right: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    max_offtake_wh: int
    max_injection_wh: int
    has_injection: bool
    has_estimates: bool


def bar_chart(points: Sequence[Point], *, unit_titles: bool = True) -> Chart:
    """The geometry of ``points`` as bars (see the module rules)."""
    left, right = float(PAD_LEFT), float(WIDTH - PAD_RIGHT)
    top, bottom = float(PAD_TOP), float(HEIGHT - PAD_BOTTOM)
    max_off = max((p.offtake_wh for p in points), default=0)
    max_inj = max((p.injection_wh for p in points), default=0)
    scale_wh = max(max_off, max_inj, 1)
    has_injection = max_inj > 0
    # offtake gets the full height without injection, otherwise both share it in proportion
    span = bottom - top - (2 * MARKER_GAP)
    if has_injection:
        up = span * max_off / (max_off + max_inj) if max_off + max_inj else span / 2
        axis = top + MARKER_GAP + up
        per_wh = span / (max_off + max_inj)
    else:
        axis = bottom
        per_wh = span / scale_wh
    slot = (right - left) / max(len(points), 1)
    gap = slot * 0.15 if slot > 4 else 0.0
    bars: list[Bar] = []
    ticks: list[Tick] = []
    for index, point in enumerate(points):
        x = left + index * slot + gap / 2
        if point.tick is not None:
            ticks.append(Tick(left + index * slot, point.tick))
        if point.offtake_wh > 0:
            height = point.offtake_wh * per_wh
            bars.append(
                Bar(
                    x,
                    axis - height,
                    slot - gap,
                    height,
                    "offtake",
                    point.estimated,
                    axis - height - MARKER_GAP / 2 if point.estimated else None,
                    f"{point.label}: {_kwh(point.offtake_wh)} kWh" if unit_titles else point.label,
                )
            )
        if point.injection_wh > 0:
            height = point.injection_wh * per_wh
            bars.append(
                Bar(
                    x,
                    axis,
                    slot - gap,
                    height,
                    "injection",
                    point.estimated,
                    axis + height + MARKER_GAP / 2 if point.estimated else None,
                    f"{point.label}: {_kwh(point.injection_wh)} kWh" if unit_titles else point.label,
                )
            )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        axis_y=axis,
        top=top,
        bottom=bottom,
        left=left,
        right=right,
        bars=tuple(bars),
        ticks=tuple(ticks),
        max_offtake_wh=max_off,
        max_injection_wh=max_inj,
        has_injection=has_injection,
        has_estimates=any(p.estimated for p in points),
    )


def _kwh(value_wh: int) -> str:
    whole, fraction = divmod(value_wh, 1000)
    return f"{whole}.{fraction:03d}"
