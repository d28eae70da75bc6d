"""Hostile input to the USCC validator (GB 32100): any text gets a verdict, never an exception.

The vectorised check used by ingest must agree with the scalar one on every code, and a valid code with one
character changed must never pass (the mod-31 check character catches every single substitution).
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from features.uscc import ALPHABET, check_uscc, check_uscc_many, make_uscc

RULES = {"uscc.length", "uscc.charset", "uscc.department", "uscc.region", "uscc.check_character"}

valid_codes = st.builds(
    make_uscc,
    st.sampled_from("159Y"),
    st.sampled_from("123"),
    st.text("0123456789", min_size=6, max_size=6),
    st.text("0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8),
)
shaped = st.text(ALPHABET, min_size=18, max_size=18)  # the right alphabet and length, mostly a wrong check
anything = st.text(max_size=24)  # any Unicode: empty, too long, Chinese, control characters
codes = st.one_of(valid_codes, shaped, anything, st.binary(max_size=20).map(lambda b: b.decode("latin-1")))


@settings(max_examples=400, deadline=None)
@given(codes)
def test_any_text_gets_a_verdict_with_a_documented_rule(code: str) -> None:
    check = check_uscc(code)
    assert check.valid == (check.rule is None)
    assert check.rule is None or (check.rule in RULES and check.message)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(codes, st.none()), max_size=40))
def test_vectorised_check_agrees_with_the_scalar_one(batch: list[str | None]) -> None:
    rules, warned = check_uscc_many(pa.array(batch, pa.string()))
    for code, rule, warning in zip(batch, rules, warned, strict=True):
        scalar = check_uscc("" if code is None else code)
        assert rule == scalar.rule, code
        assert bool(warning) == bool(scalar.warnings), code


@settings(max_examples=300, deadline=None)
@given(valid_codes, st.integers(0, 17), st.sampled_from(ALPHABET))
def test_one_changed_character_never_passes(code: str, position: int, replacement: str) -> None:
    changed = code[:position] + replacement + code[position + 1:]
    assert check_uscc(code).valid
    assert check_uscc(changed).valid == (changed == code)
