"""Identifiers that end up in MQTT topics and file names: checked and normalised here."""
from __future__ import annotations

import re
import unicodedata

from .errors import InvalidName

SITE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
GROUP_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
POLE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FLEET_USER_RE = re.compile(r"^[a-z][a-z0-9_-]{2,31}$")
_HEX = re.compile(r"^[0-9a-f]+$")


def chip_id(value: str) -> str:
    """'24:0A:C4:12:34:56' / '240ac4123456' -> '240ac4123456' (the key of every board record)."""
    v = str(value).strip().lower().replace(":", "").replace("-", "")
    if not (_HEX.match(v) and 8 <= len(v) <= 32 and len(v) % 2 == 0):
        raise InvalidName(f"chip id {value!r}: expected 4 to 16 bytes in hex, like 24:0a:c4:12:34:56")
    return v


def site_id(value: str) -> str:
    if not SITE_RE.match(value or ""):
        raise InvalidName(f"site {value!r}: use 1-32 lowercase letters, digits or '-' (it is part of MQTT topics)")
    return value


def group_name(value: str) -> str:
    if not GROUP_RE.match(value or ""):
        raise InvalidName(f"group {value!r}: use 1-48 lowercase letters, digits or '-', starting with a letter or digit")
    return value


def pole_id(value: str) -> str:
    if not POLE_RE.match(value or ""):
        raise InvalidName(f"pole id {value!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def fleet_user(value: str) -> str:
    if not FLEET_USER_RE.match(value or ""):
        raise InvalidName(f"fleet account {value!r}: use 3-32 lowercase letters, digits, '_' or '-', starting with a letter")
    if _HEX.match(value):
        raise InvalidName(f"fleet account {value!r}: looks like a chip id (boards' names); add a letter beyond a-f")
    return value


def slug(text: str) -> str:
    """'Rue de l'Église' -> 'rue-de-l-eglise': an ASCII name for topics (may be empty)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40].strip("-")
