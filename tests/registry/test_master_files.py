"""The vectorised EAN check agrees with the domain rule (:mod:`kwartier.domain.ean`), sliced arrays too."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from kwartier.domain.ean import is_valid_ean, with_check_digit
from kwartier.registry.master_files import ean_error, valid_ean_mask

DIGITS = st.text(alphabet="0123456789", min_size=17, max_size=17)


@settings(deadline=None)  # the first call imports pyarrow.compute kernels
@given(st.lists(st.one_of(DIGITS.map(with_check_digit), st.text(max_size=20), DIGITS.map(lambda p: p + "0"))))
def test_the_vectorised_check_is_the_domain_rule(codes: list[str]) -> None:
    assert valid_ean_mask(pa.array(codes, pa.string())).tolist() == [is_valid_ean(code) for code in codes]


def test_known_codes() -> None:
    # 541448820052377134 is the EAN of docs/formats.md; changing its check digit breaks it
    codes = ["541448820052377134", "541448820052377135", "54144882005237713", "54144882005237713x", "５" * 18]
    assert valid_ean_mask(pa.array(codes)).tolist() == [True, False, False, False, False]
    assert ean_error(codes[0]) is None
    assert ean_error(codes[1]) == "'541448820052377135': check digit is 5, GS1 gives 4"


def test_a_sliced_array_is_checked_from_its_own_start() -> None:
    codes = pa.array(["541448820052377135", "541448820052377134", "x", "541448820052377134"])
    assert valid_ean_mask(codes.slice(1)).tolist() == [True, False, True]
