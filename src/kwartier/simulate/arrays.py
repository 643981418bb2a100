"""Array type aliases of the simulator (numpy, vectorised over access points and intervals)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]


def round_half_up(values: FloatArray) -> IntArray:
    """Round non-negative physical quantities to the integer unit (Wh, dm³), halves up."""
    return np.floor(values + 0.5).astype(np.int64)
