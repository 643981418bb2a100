"""The estimation methods, by code, and why each is used (stored in the ``method`` column).

- ``E1-INTERPOLATION``: a short gap (at most 8 quarter hours = 2 h of electricity, at most 2 gas hours)
  between two current values of the same access point and channel: consumption changes little over so
  short a time, so the straight line between the two neighbours is the best guess.
- ``E2-LIKE-DAY``: a longer gap: consumption follows the weekly rhythm of the household or business,
  so the mean of the same wall-clock slot on the same weekday of the previous weeks is used.
- ``E3-PROFILE``: no like-day value either (a new or non-communicating meter): the median of all access
  points that have a value for that channel at that instant, a profile derived from the data itself;
  an access point without any injection value in the history window is assumed not to inject (0).
- suffix ``+INDEX``: the estimates of a day and tariff were scaled so that measured + estimated add up
  exactly to the increase of the register index (the index is a measurement; the estimate only shapes
  the curve).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class EstimationMethod(StrEnum):
    """Code of the method that produced an estimated value."""

    INTERPOLATION = "E1-INTERPOLATION"
    LIKE_DAY = "E2-LIKE-DAY"
    PROFILE = "E3-PROFILE"


INDEX_SUFFIX: Final = "+INDEX"
