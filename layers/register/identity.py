"""National identifiers and how they are shown: the resident ID number (GB 11643, 18 characters
with an ISO 7064 MOD 11-2 check character), the unified social credit code (GB 32100, 18
characters with a MOD 31 check character over an organisation code with its own GB 11714 check),
mainland mobile numbers, and the masks a person sees when their role does not need the value.
Pure functions, vectorised where the demo and imports need a million at a time.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"
ID_PATTERN = re.compile(r"^\d{17}[\dX]$")
PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def normalise_id(value: str) -> str:
    return str(value).strip().upper().replace(" ", "")


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def id_check_chars(first17: np.ndarray) -> np.ndarray:
    """The check characters of many 17-digit prefixes (an array of str)."""
    digits = np.frombuffer("".join(first17).encode(), dtype=np.uint8).reshape(-1, 17) - 48
    return np.array(list(ID_CHECK))[(digits.astype(np.int64) @ ID_WEIGHTS) % 11]


def id_problem(value: str) -> str | None:
    """Why ``value`` is not a valid resident ID number, or None."""
    v = normalise_id(value)
    if not ID_PATTERN.match(v):
        return "an ID number has 17 digits and a check character (0-9 or X)"
    try:
        dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return f"the birth date {v[6:14]} in the ID number is not a date"
    if id_check_char(v[:17]) != v[17]:
        return f"the check character is {v[17]}, but the first 17 digits give {id_check_char(v[:17])}"
    return None


def birth_date_of(value: str) -> dt.date:
    v = normalise_id(value)
    return dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))


def gender_of(value: str) -> str:
    """The 17th digit: odd for men, even for women."""
    return "男" if int(normalise_id(value)[16]) % 2 else "女"


def normalise_phone(value: str) -> str:
    digits = re.sub(r"\D", "", str(value))
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def phone_problem(value: str) -> str | None:
    return None if PHONE_PATTERN.match(normalise_phone(value)) else \
        "a mobile number has 11 digits starting 13–19"


def _org_check(code8: str) -> str:
    values = [CREDIT_CHARS.index(c) if c in CREDIT_CHARS else -1 for c in code8]
    r = 11 - sum(v * w for v, w in zip(values, ORG_WEIGHTS, strict=True)) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def credit_check_char(first17: str) -> str:
    total = sum(CREDIT_CHARS.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code_problem(value: str) -> str | None:
    """Why ``value`` is not a valid unified social credit code, or None."""
    v = str(value).strip().upper()
    if len(v) != 18 or any(c not in CREDIT_CHARS for c in v):
        return f"a credit code has 18 characters from {CREDIT_CHARS}"
    if not v[2:8].isdigit():
        return "characters 3–8 of a credit code are the registering area's code"
    if _org_check(v[8:16]) != v[16]:
        return f"the organisation code {v[8:17]} fails its check (GB 11714)"
    if credit_check_char(v[:17]) != v[17]:
        return f"the check character is {v[17]}, but the first 17 give {credit_check_char(v[:17])}"
    return None


def credit_code(registry: str, kind: str, area: str, org8: str) -> str:
    """A valid code from its parts (for the demo): 1 + 1 + 6 + 8, then the two check characters."""
    body = registry + kind + area + org8 + _org_check(org8)
    return body + credit_check_char(body)


def mask_id(value: str) -> str:
    v = normalise_id(value)
    return v[:6] + "*" * 8 + v[14:] if len(v) == 18 else "*" * len(v)


def mask_phone(value: str | None) -> str | None:
    if not value:
        return None
    v = normalise_phone(value)
    return v[:3] + "****" + v[7:] if len(v) == 11 else "*" * len(v)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
