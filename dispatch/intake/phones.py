"""Citizen phone numbers: validation (with the `phonenumbers` library) and masking."""

from __future__ import annotations

import phonenumbers

from dispatch.core.errors import InvalidInput


def normalize_phone(raw: str, field: str = "citizen.phone") -> str:
    """A Chinese mobile or landline number in national digits (e.g. `13800138000`,
    `03738888888`); refuses anything that is not a real phone number."""
    text = raw.strip()
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{field}: '{raw}' is not a phone number", field=field) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"{field}: '{raw}' is not a valid phone number", field=field)
    if parsed.country_code != 86:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.national_significant_number(parsed)
    mobile = phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
    )
    return national if mobile and national.startswith("1") else "0" + national


def mask_phone(phone: str) -> str:
    """138****1234: the first three and last four digits stay."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    """张** : the family name stays."""
    return name[:1] + "*" * max(len(name) - 1, 1)
