"""Citizen phone numbers: validation (with the `phonenumbers` library) and masking."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from dispatch.core.errors import InvalidInput


def normalize_phone(raw: str, field: str = "citizen.phone") -> str:
    """A Chinese mobile or landline number in national digits (e.g. `13800138000`,
    `03738888888`); refuses anything that is not a real phone number."""
    text = raw.strip()
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{field}: “{raw}”不是电话号码", field=field) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"{field}: “{raw}”不是有效的电话号码", field=field)
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


# Full-width digits (１３８…) and X read as their ASCII forms, one character for one, so the
# places found in the translation are the places in the text.
_WIDE = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "Ｘ": "X", "ｘ": "x"})
# Resident ID cards: 18 characters (region, birth date, sequence, check digit) or the old 15.
_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"\d{3}[0-9Xx](?![0-9A-Za-z])"
    r"|(?<!\d)[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?!\d)", re.ASCII)
_DIGITS = re.compile(r"\d", re.ASCII)
_MIN_DIGITS = 7  # fewer digits than this in a text: no phone or ID number can be in it


def _national(number: phonenumbers.PhoneNumber) -> str:
    digits = phonenumbers.national_significant_number(number)
    if number.country_code != 86:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return digits if digits.startswith("1") else "0" + digits


def personal_numbers(text: str) -> list[tuple[int, int, str]]:
    """The phone and ID-card numbers in a free text: (start, end, masked form), in order."""
    if not text:
        return []
    plain = text.translate(_WIDE)
    if len(_DIGITS.findall(plain)) < _MIN_DIGITS:
        return []
    return list(_numbers_in(plain))


@lru_cache(maxsize=4096)  # the console board reads the same texts again and again
def _numbers_in(plain: str) -> tuple[tuple[int, int, str], ...]:
    found = [(m.start(), m.end(), mask_phone(m.group(0))) for m in _ID_CARD.finditer(plain)]
    taken = [(s, e) for s, e, _ in found]
    for m in phonenumbers.PhoneNumberMatcher(plain, "CN"):
        if not any(s < m.end and m.start < e for s, e in taken):
            found.append((m.start, m.end, mask_phone(_national(m.number))))
    return tuple(sorted(found))


def has_personal_numbers(text: str | None) -> bool:
    """Whether a free text holds a phone or ID-card number."""
    return bool(text) and bool(personal_numbers(text or ""))


def mask_text(text: str) -> str:
    """A free text (a demand, a note) with every phone and ID-card number in it masked as the
    citizen's own phone is (138****1234, 410***********1234): the one masker of typed
    numbers, used wherever the citizen is masked."""
    spans = personal_numbers(text)
    if not spans:
        return text
    out, at = [], 0
    for start, end, masked in spans:
        out += [text[at:start], masked]
        at = end
    out.append(text[at:])
    return "".join(out)
