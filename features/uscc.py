"""统一社会信用代码 (USCC, GB 32100-2015): validation and check characters.

Position 18 is a mod-31 check character over the first 17; a wrong one makes the code invalid. Positions
9-17 are the GB 11714 organisation code, whose own mod-11 check (position 17) is only warned about, since
some real registrations do not satisfy it (DOMAIN.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS_18 = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_WEIGHTS_ORG = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
REGISTERING_DEPARTMENTS = frozenset("159Y")
_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUW-Y]{18}$")


@dataclass(frozen=True)
class UsccCheck:
    """Outcome of checking one code: ``valid`` is False when ``rule`` names the broken rule."""

    code: str
    valid: bool
    rule: str | None = None
    message: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a code."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS_18, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def organisation_check_character(first8: str) -> str:
    """The GB 11714 check character (USCC position 17) for organisation-code positions 9-16."""
    total = sum(_ORG_ALPHABET.index(ch) * w for ch, w in zip(first8, _WEIGHTS_ORG, strict=True))
    value = (11 - total % 11) % 11
    return "X" if value == 10 else str(value)


def check_uscc(code: str) -> UsccCheck:
    """Check a code against GB 32100: shape, registering department, region digits, check character."""
    if not isinstance(code, str) or len(code) != 18:
        return UsccCheck(str(code), False, "uscc.length", "a USCC has exactly 18 characters")
    if not _SHAPE.match(code):
        return UsccCheck(
            code, False, "uscc.charset", "a USCC uses only 0-9 and A-H J-N P-R T U W-Y (no I O S V Z)"
        )
    if code[0] not in REGISTERING_DEPARTMENTS:
        return UsccCheck(code, False, "uscc.department", "position 1 must be a registering department: 1 5 9 Y")
    if not code[2:8].isdigit():
        return UsccCheck(code, False, "uscc.region", "positions 3-8 must be a six-digit GB/T 2260 region code")
    expected = check_character(code[:17])
    if code[17] != expected:
        return UsccCheck(
            code, False, "uscc.check_character", f"check character (position 18) should be {expected}"
        )
    warnings: tuple[str, ...] = ()
    org = code[8:16]
    if all(ch in _ORG_ALPHABET for ch in org) and organisation_check_character(org) != code[16]:
        warnings = ("uscc.organisation_check: position 17 does not match the GB 11714 check",)
    return UsccCheck(code, True, None, None, warnings)


def is_valid_uscc(code: str) -> bool:
    """True when the code passes every GB 32100 rule (position-17 warnings do not count)."""
    return check_uscc(code).valid


def make_uscc(department: str, entity_type: str, region: str, organisation8: str) -> str:
    """Build a valid code from its parts; used by the synthetic region and by tests."""
    first16 = department + entity_type + region + organisation8
    first17 = first16 + organisation_check_character(organisation8)
    return first17 + check_character(first17)


_CHAR_VALUE = np.full(256, -1, dtype=np.int64)
for _i, _ch in enumerate(ALPHABET):
    _CHAR_VALUE[ord(_ch)] = _i
_ORG_VALUE = np.full(256, -1, dtype=np.int64)
for _i, _ch in enumerate(_ORG_ALPHABET):
    _ORG_VALUE[ord(_ch)] = _i
_DEPARTMENT = np.zeros(256, dtype=bool)
_DEPARTMENT[[ord(ch) for ch in REGISTERING_DEPARTMENTS]] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0"):ord("9") + 1] = True


def check_uscc_many(codes: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``check_uscc`` over an Arrow string array: (rule per code or None, position-17 warning).

    The same rules in the same order as ``check_uscc``; used by ingest, where a registration file may hold
    millions of codes.
    """
    n = len(codes)
    rules = np.full(n, None, dtype=object)
    warned = np.zeros(n, dtype=bool)
    if n == 0:
        return rules, warned
    codes = pc.fill_null(codes, "")
    lengths = np.asarray(pc.binary_length(codes).to_numpy(zero_copy_only=False))
    char_lengths = np.asarray(pc.utf8_length(codes).to_numpy(zero_copy_only=False))
    rules[char_lengths != 18] = "uscc.length"
    ascii18 = (char_lengths == 18) & (lengths == 18)
    rules[(char_lengths == 18) & ~ascii18] = "uscc.charset"
    rows = np.flatnonzero(ascii18)
    if len(rows) == 0:
        return rules, warned
    subset = codes.take(pa.array(rows, pa.int64()))
    data = np.frombuffer(subset_bytes(subset), dtype=np.uint8)
    chars = data.reshape(-1, 18)
    values = _CHAR_VALUE[chars]
    charset_ok = (values >= 0).all(axis=1)
    department_ok = _DEPARTMENT[chars[:, 0]]
    region_ok = _DIGIT[chars[:, 2:8]].all(axis=1)
    weights = np.array(_WEIGHTS_18, dtype=np.int64)
    expected = (31 - (values[:, :17] * weights).sum(axis=1) % 31) % 31
    check_ok = expected == values[:, 17]
    sub_rules = np.full(len(rows), None, dtype=object)
    sub_rules[~check_ok] = "uscc.check_character"
    sub_rules[~region_ok] = "uscc.region"
    sub_rules[~department_ok] = "uscc.department"
    sub_rules[~charset_ok] = "uscc.charset"
    rules[rows] = sub_rules
    org = _ORG_VALUE[chars[:, 8:16]]
    org_total = (org * np.array(_WEIGHTS_ORG, dtype=np.int64)).sum(axis=1)
    org_check = (11 - org_total % 11) % 11
    position17 = np.where(chars[:, 16] == ord("X"), 10, _ORG_VALUE[chars[:, 16]])
    org_warn = (org >= 0).all(axis=1) & (org_check != position17)
    warned[rows] = org_warn & (sub_rules == None)  # noqa: E711 (element-wise on an object array)
    return rules, warned


def subset_bytes(codes: pa.Array) -> bytes:
    """The 18 bytes of each code laid end to end (every code is 18 ASCII bytes), without a Python loop."""
    codes = pa.array(codes.to_pylist(), pa.string()) if codes.offset else codes
    offsets = np.frombuffer(codes.buffers()[1], dtype=np.int32)[: len(codes) + 1]
    data = np.frombuffer(codes.buffers()[2], dtype=np.uint8)
    return data[offsets[0]:offsets[-1]].tobytes()
