"""统一社会信用代码 checks (GB 32100-2015), against codes built by hand and a slow reference check."""

from __future__ import annotations

import pytest

from features.uscc import ALPHABET, check_character, check_uscc, is_valid_uscc, make_uscc, organisation_check_character


def reference_check_character(first17: str) -> str:
    """GB 32100 written out: weights 3^i mod 31, check = (31 - sum mod 31) mod 31."""
    total = sum(ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return ALPHABET[(31 - total % 31) % 31]


@pytest.mark.parametrize(
    ("department", "entity_type", "region", "organisation8"),
    [
        ("9", "1", "440300", "00000001"),  # 市场监管, enterprise, 深圳
        ("9", "2", "110105", "MA01ABCD"),  # 个体工商户, 北京朝阳
        ("9", "3", "330106", "12345678"),  # farmers' cooperative
        ("5", "1", "310115", "50000123"),  # 民政
        ("1", "1", "420100", "00000999"),  # 机构编制
        ("Y", "1", "510100", "0000ABCD"),  # other department
    ],
)
def test_codes_made_from_their_parts_are_valid(department: str, entity_type: str, region: str,
                                               organisation8: str) -> None:
    code = make_uscc(department, entity_type, region, organisation8)
    check = check_uscc(code)
    assert check.valid and check.rule is None and check.warnings == ()
    assert is_valid_uscc(code)
    assert code[17] == reference_check_character(code[:17])


def test_known_check_characters() -> None:
    # worked by hand: 9·1 + 1·3 + 4·9 + 4·27 + 3·26 + 1·30 + 9·28 = 516; 516 mod 31 = 20; 31 - 20 = 11 → B
    assert check_character("91440300000000019") == "B"
    assert reference_check_character("91440300000000019") == "B"
    assert is_valid_uscc("91440300000000019B")


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("91440300000000019", "uscc.length"),
        ("91440300000000019BX", "uscc.length"),
        ("", "uscc.length"),
        ("9144030000000O019B", "uscc.charset"),  # letter O is not in the alphabet
        ("91440300000000019b", "uscc.charset"),  # lower case
        ("2144030000000001XB", "uscc.department"),
        ("91A40300000000019B", "uscc.region"),
        ("914403000000000190", "uscc.check_character"),
    ],
)
def test_each_rule_is_named(code: str, rule: str) -> None:
    check = check_uscc(code)
    assert not check.valid
    assert check.rule == rule
    assert check.message
    assert not is_valid_uscc(code)


def test_wrong_check_character_names_the_expected_one() -> None:
    check = check_uscc("91440300000000019X")
    assert check.rule == "uscc.check_character"
    assert check.message is not None and check.message.endswith("should be B")


def test_real_world_style_code_with_a_wrong_check_character() -> None:
    first17 = "91440300MA5DC6QB1"  # 深圳 enterprise with an MA-series organisation code
    expected = reference_check_character(first17)
    assert is_valid_uscc(first17 + expected)
    wrong = ALPHABET[(ALPHABET.index(expected) + 1) % len(ALPHABET)]
    check = check_uscc(first17 + wrong)
    assert not check.valid and check.rule == "uscc.check_character"
    assert check.message is not None and expected in check.message


def test_position_17_mismatch_only_warns() -> None:
    good = make_uscc("9", "1", "440300", "00000001")
    wrong17 = "0" if good[16] != "0" else "1"
    first17 = good[:16] + wrong17
    code = first17 + reference_check_character(first17)
    assert organisation_check_character(good[8:16]) != wrong17
    check = check_uscc(code)
    assert check.valid
    assert len(check.warnings) == 1 and "position 17" in check.warnings[0]
