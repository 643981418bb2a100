"""The access point's EAN-18 code and its GS1 check digit.

Rule (GS1 General Specifications §7.9, "Check digit calculation"): number the digits from the right,
the check digit being position 1; multiply the digits in even positions by 3 and those in odd
positions by 1, add them up, and the check digit is what brings the sum to a multiple of 10.
Belgian access points are identified by an 18-digit GSRN starting with 54 (seed 000, footnote 54).
"""

from __future__ import annotations

EAN_LENGTH = 18


class InvalidEanError(ValueError):
    """An EAN that is not 18 digits or whose check digit is wrong."""


def check_digit(payload: str) -> int:
    """Return the GS1 check digit of ``payload`` (the first 17 digits of an EAN-18)."""
    if not payload.isdigit() or not payload.isascii():
        raise InvalidEanError(f"{payload!r}: only digits are allowed")
    codes = payload.encode("ascii")  # a digit's code is 48 + the digit
    tripled, single = codes[-1::-2], codes[-2::-2]  # positions 2, 4, … and 3, 5, … of the full code
    total = 3 * (sum(tripled) - 48 * len(tripled)) + sum(single) - 48 * len(single)
    return (10 - total % 10) % 10


def is_valid_ean(code: str) -> bool:
    """True when ``code`` is 18 ASCII digits with a correct GS1 check digit."""
    if len(code) != EAN_LENGTH or not code.isascii() or not code.isdigit():
        return False
    return check_digit(code[:-1]) == int(code[-1])


def validate_ean(code: str) -> str:
    """Return ``code`` when it is a valid EAN-18, else raise :class:`InvalidEanError` saying why."""
    if len(code) != EAN_LENGTH:
        raise InvalidEanError(f"{code!r}: an EAN has {EAN_LENGTH} digits, not {len(code)}")
    if not code.isascii() or not code.isdigit():
        raise InvalidEanError(f"{code!r}: an EAN holds only digits")
    expected = check_digit(code[:-1])
    if expected != int(code[-1]):
        raise InvalidEanError(f"{code!r}: check digit is {code[-1]}, GS1 gives {expected}")
    return code


def with_check_digit(payload: str) -> str:
    """Complete a 17-digit payload into a valid EAN-18."""
    if len(payload) != EAN_LENGTH - 1:
        raise InvalidEanError(f"{payload!r}: the payload of an EAN-18 has 17 digits")
    return payload + str(check_digit(payload))
