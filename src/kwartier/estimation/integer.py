"""Integer division and rounding as Ibis expressions, identical on DuckDB and PySpark.

Ibis compiles ``a // b`` to ``FLOOR(a / b)`` over doubles on both engines. Dividing a multiple of the
divisor is exact in a double as long as the operands stay below 2**53 (9e15 Wh, far above any day of
any access point), so :func:`exact_quotient` first removes the remainder with the integer ``%``.
"""

from __future__ import annotations

from typing import Any

import ibis


def exact_quotient(dividend: Any, divisor: Any) -> Any:
    """floor(dividend / divisor) as int64, for integer ``dividend`` ≥ 0 and ``divisor`` > 0."""
    return ((dividend - dividend % divisor) // divisor).cast("int64")


def round_half_away(numerator: Any, denominator: Any) -> Any:
    """numerator / denominator rounded to the nearest integer, halves away from zero (2.5 → 3,
    -2.5 → -3), as int64, for integer ``numerator`` and ``denominator`` > 0."""
    magnitude = exact_quotient(numerator.abs() * 2 + denominator, denominator * 2)
    return ibis.ifelse(numerator < 0, -magnitude, magnitude).cast("int64")
