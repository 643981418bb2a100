"""EAN-18 and the GS1 check digit."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kwartier.domain.ean import (
    InvalidEanError,
    check_digit,
    is_valid_ean,
    validate_ean,
    with_check_digit,
)


def test_gs1_published_example() -> None:
    # GS1 General Specifications, check digit example for a GSRN-18: 73567800000000001 → 9 …
    # computed by hand: weights 3,1,3,… from the right over 17 digits.
    payload = "54144882005237713"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    assert check_digit(payload) == (10 - total % 10) % 10


def test_belgian_eans_from_the_sample_file_names() -> None:
    # the file names of the Mijn Fluvius samples carry real-looking EANs: check digits 4 and 7
    assert is_valid_ean("541448820052377134")
    assert is_valid_ean("541448860018322037")
    assert not is_valid_ean("541448820052377135")


def test_anonymised_sample_ean_fails_the_check_digit() -> None:
    # the EAN inside the English exports; the Dutch ones carry 123456789123456789, which happens to
    # have a correct check digit (9) although it is anonymised
    with pytest.raises(InvalidEanError, match="check digit is 9, GS1 gives 7"):
        validate_ean("123456879123456789")
    assert is_valid_ean("123456789123456789")


@pytest.mark.parametrize("code", ["", "12345", "5414488200523771345", "54144882005237713a", "５４"])
def test_malformed(code: str) -> None:
    assert not is_valid_ean(code)
    with pytest.raises(InvalidEanError):
        validate_ean(code)


@given(st.from_regex(r"\A[0-9]{17}\Z"))
def test_completed_payload_is_valid_and_any_single_digit_change_is_caught(payload: str) -> None:
    code = with_check_digit(payload)
    assert validate_ean(code) == code
    for position in range(18):
        original = int(code[position])
        changed = code[:position] + str((original + 1) % 10) + code[position + 1 :]
        assert not is_valid_ean(changed)


@given(st.from_regex(r"\A[0-9]{1,20}\Z"))
def test_check_digit_is_the_gs1_sum_of_weighted_digits_for_any_length(payload: str) -> None:
    # GS1 §7.9 digit by digit (GLN-13 payloads of 12 digits use it as well as EAN-18 ones of 17)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    assert check_digit(payload) == (10 - total % 10) % 10
