"""Personal data shown to people who do not need it in full: masked, not removed, so that it can
still be recognised (138****5678) but not used."""

from __future__ import annotations

import re

# Runs of 7+ digits, optionally split by spaces or dashes: mobile and landline numbers, ID
# numbers (the last character of an ID may be X), bank cards.
_NUMBER = re.compile(r"(?<![\dXx])\d(?:[\d\- ]{5,}\d)[\dXx]?(?![\d])")


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough to recognise a number, not to call it."""
    if not phone:
        return None
    return _masked(phone.strip())


def _masked(digits: str) -> str:
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_numbers(text: str | None) -> str | None:
    """Free text (a case description) with every phone-, ID- or card-like number masked."""
    if not text:
        return text

    def hide(match: re.Match) -> str:
        run = match.group(0)
        digits = re.sub(r"[\- ]", "", run)
        if len(digits) < 7:
            return run
        return _masked(digits)

    return _NUMBER.sub(hide, text)
