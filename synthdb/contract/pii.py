"""Detectors for personal data in single values: pure functions, no database, no I/O.

Each detector answers "does this value look like X?" with a cheap regex plus a checksum where
one exists (IBAN mod-97, Luhn for payment cards), because a regex alone flags every long
number. ``find_in_text`` looks for the same things *inside* free text. Nothing here logs or
keeps the values it is given.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache

EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}$")
EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}")
# 7-15 digits with at least one phone-like separator or a leading +, e.g. +1 (555) 010-2030
PHONE = re.compile(r"^(?:\+|00)?[\d][\d\s().\-/]{5,20}\d(?:\s*(?:x|ext\.?)\s*\d{1,5})?$", re.I)
PHONE_IN_TEXT = re.compile(r"(?:\+|\b00)?\(?\d{2,4}\)?[\s.\-/]\d{2,4}[\s.\-/]\d{2,5}\b")
SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
SSN_IN_TEXT = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
IBAN_IN_TEXT = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
CARD = re.compile(r"^\d(?:[ -]?\d){12,18}$")
CARD_IN_TEXT = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
IPV4_IN_TEXT = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
STREET_SUFFIXES = (
    "street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|place|pl|"
    "terrace|ter|circle|cir|highway|hwy|parkway|pkwy|square|sq|trail|trl|alley|plaza|"
    "strasse|straße|str|weg|gasse|platz|rue|avenida|calle|via"
)
STREET = re.compile(
    rf"^\s*\d{{1,6}}[A-Za-z]?\s+(?:[A-Za-z0-9.'-]+\s+){{0,5}}(?:{STREET_SUFFIXES})\b\.?",
    re.I,
)
STREET_EU = re.compile(rf"^\s*[A-Za-zÀ-ÿ.'-]+(?:{STREET_SUFFIXES})?\.?\s+\d{{1,5}}[a-z]?\b", re.I)
STREET_IN_TEXT = re.compile(
    rf"\b\d{{1,6}}\s+(?:[A-Z][A-Za-z0-9.'-]*\s+){{1,4}}(?:{STREET_SUFFIXES})\b", re.I
)


def digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """The Luhn checksum of a digit string (payment cards, some national ids)."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(value: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to 10..35, mod 97 == 1."""
    compact = value.replace(" ", "").upper()
    if not IBAN.match(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def is_email(value: str) -> bool:
    return bool(EMAIL.match(value.strip()))


def is_phone(value: str) -> bool:
    text = value.strip()
    if not PHONE.match(text):
        return False
    n = len(digits(text.split("x")[0].split("X")[0]))
    has_format = text.startswith("+") or any(c in text for c in " ()-./")
    groups = re.findall(r"\d+", text)
    if len(groups) == 2 and not text.startswith("+") and int(groups[0]) < int(groups[1]):
        return False  # '1500-1600' is a range label (bucket), not a phone number
    # a bare 7-15 digit number is an id as often as a phone: only formatted ones count
    return 7 <= n <= 15 and has_format and not is_ssn(text) and not _looks_like_date(text)


def _looks_like_date(text: str) -> bool:
    return bool(
        re.match(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$", text)
    )


def is_ssn(value: str) -> bool:
    return bool(SSN.match(value.strip()))


def is_iban(value: str) -> bool:
    return iban_valid(value.strip())


def is_card(value: str) -> bool:
    text = value.strip()
    if not CARD.match(text):
        return False
    number = digits(text)
    # issuer prefixes of the big schemes (2-series and 5 Mastercard, 3 Amex/JCB/Diners,
    # 4 Visa, 6 Discover/UnionPay/Maestro) and the checksum
    return 13 <= len(number) <= 19 and number[0] in "23456" and luhn_valid(number)


def is_ip(value: str) -> bool:
    text = value.strip()
    if text.count(".") != 3 and ":" not in text:
        return False
    try:
        ipaddress.ip_address(text.split("/")[0])
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """First and last names (lower case) from Faker's person providers of a few locales."""
    import importlib

    first: set[str] = set()
    last: set[str] = set()
    for locale in ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"):
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:  # pragma: no cover - depends on the faker build
            continue
        for attr, target in (
            ("first_names", first),
            ("first_names_female", first),
            ("first_names_male", first),
            ("last_names", last),
        ):
            target.update(n.lower() for n in getattr(provider, attr, ()) if len(n) > 1)
    return frozenset(first), frozenset(last)


def is_person_name(value: str) -> bool:
    """'Ann Smith', 'Smith, Ann', 'Dr. Ann B. Smith': 2-4 capitalised words, a known first name
    and a known last name (a single known word is too weak: 'Jordan', 'Paris')."""
    text = value.strip().replace(",", " ")
    words = [
        w for w in text.split() if w.rstrip(".").lower() not in {"mr", "mrs", "ms", "dr", "prof"}
    ]
    if not 2 <= len(words) <= 4 or not all(w[:1].isupper() for w in words):
        return False
    first, last = name_lists()
    lowered = [w.strip(".").lower() for w in words]
    return any(w in first for w in lowered) and any(w in last for w in lowered)


@lru_cache(maxsize=1)
def street_suffixes() -> frozenset[str]:
    """Street-type words: a fixed list plus Faker's en_US suffixes (Alley, Crossing, ...)."""
    words = set(STREET_SUFFIXES.split("|"))
    try:
        from faker.providers.address.en_US import Provider

        words.update(w.lower() for w in Provider.street_suffixes)
    except ImportError:  # pragma: no cover
        pass
    return frozenset(words)


_HOUSE_FIRST = re.compile(r"^\s*\d{1,6}[A-Za-z]?\s+((?:[A-Za-z0-9.'-]+\s*){1,8})")


def is_street_address(value: str) -> bool:
    """'123 Main Street Apt. 4', 'Hauptstraße 5': a house number next to a street-type word."""
    text = value.strip()
    if len(text) > 80:
        return False
    match = _HOUSE_FIRST.match(text)
    if match:
        words = [w.strip(".,").lower() for w in match.group(1).split()]
        if len(words) >= 2 and any(w in street_suffixes() for w in words[1:]):
            return True
    return bool(STREET_EU.match(text) and _eu_suffix(text))


def _eu_suffix(text: str) -> bool:
    word = text.split()[0].lower().rstrip(".")
    return word.endswith(("strasse", "straße", "str", "weg", "gasse", "platz"))


def is_birth_date_like(value: object, today: date | None = None) -> bool:
    """A date 0-110 years in the past: plausible for a birth date (weak on its own)."""
    today = today or date.today()
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip()[:10])
        except ValueError:
            return False
    if not isinstance(value, date):
        return False
    return today.replace(year=today.year - 110) <= value <= today


def _card_in_text(text: str) -> bool:
    return any(is_card(m.group(0)) for m in CARD_IN_TEXT.finditer(text))


def _iban_in_text(text: str) -> bool:
    return any(iban_valid(m.group(0)) for m in IBAN_IN_TEXT.finditer(text))


def _ip_in_text(text: str) -> bool:
    return any(is_ip(m.group(0)) for m in IPV4_IN_TEXT.finditer(text))


def _name_in_text(text: str) -> bool:
    words = re.findall(r"[A-Z][a-z]+", text)
    first, last = name_lists()
    return any(
        a.lower() in first and b.lower() in last for a, b in zip(words, words[1:], strict=False)
    )


# kind -> detector for whole values, strongest evidence first
VALUE_DETECTORS: dict[str, Callable[[str], bool]] = {
    "email": is_email,
    "iban": is_iban,
    "payment_card": is_card,
    "national_id": is_ssn,
    "ip_address": is_ip,
    "phone": is_phone,
    "street_address": is_street_address,
    "person_name": is_person_name,
}

TEXT_DETECTORS: dict[str, Callable[[str], bool]] = {
    "email": lambda t: bool(EMAIL_IN_TEXT.search(t)),
    "iban": _iban_in_text,
    "payment_card": _card_in_text,
    "national_id": lambda t: bool(SSN_IN_TEXT.search(t)),
    "ip_address": _ip_in_text,
    "phone": lambda t: bool(PHONE_IN_TEXT.search(t)),
    "street_address": lambda t: bool(STREET_IN_TEXT.search(t)),
    "person_name": _name_in_text,
}


def detect_value(value: str) -> str | None:
    """The kind of personal data a whole value is, or ``None``."""
    for kind, check in VALUE_DETECTORS.items():
        if check(value):
            return kind
    return None


def find_in_text(text: str) -> set[str]:
    """Kinds of personal data found anywhere inside a longer text."""
    return {kind for kind, check in TEXT_DETECTORS.items() if check(text)}
