"""Citizen phone numbers: what is accepted, how it is normalised, what is refused, masking."""

from __future__ import annotations

import pytest

from dispatch.core.errors import InvalidInput
from dispatch.intake.phones import mask_name, mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("  13800138000  ", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("19912345678", "19912345678"),
    ],
)
def test_mobile_numbers_are_normalised_to_eleven_national_digits(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0373-8888888", "03738888888"),
        ("(0373) 8888888", "03738888888"),
        ("010-12345678", "01012345678"),
        ("+86 10 1234 5678", "01012345678"),
    ],
)
def test_landlines_keep_their_trunk_zero_and_area_code(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_a_foreign_number_is_kept_in_international_form() -> None:
    assert normalize_phone("+1 650 253 0000") == "+16502530000"


@pytest.mark.parametrize(
    "raw",
    [
        "12345",  # the hotline itself
        "110",  # the police
        "abc",
        "",
        "   ",
        "138001380001",  # 12 digits
        "1380013800",  # 10 digits
        "037388888888",  # a landline with one digit too many
    ],
)
def test_what_is_not_a_real_phone_number_is_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_phone(raw)
    assert refused.value.field == "citizen.phone"
    assert refused.value.message.startswith("citizen.phone:")


def test_the_refusal_names_the_field_the_caller_gives() -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_phone("12345", field="caller_phone")
    assert refused.value.field == "caller_phone"


def test_a_mobile_is_masked_keeping_the_first_three_and_last_four_digits() -> None:
    assert mask_phone("13800138000") == "138****8000"


def test_a_landline_is_masked_the_same_way() -> None:
    assert mask_phone("03738888888") == "037****8888"
    assert mask_phone("01012345678") == "010****5678"


@pytest.mark.parametrize("short", ["", "110", "1234567"])
def test_a_number_too_short_to_mask_partially_is_masked_entirely(short: str) -> None:
    assert mask_phone(short) == "*" * len(short)


def test_a_name_keeps_only_the_family_name() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("张") == "张*"
