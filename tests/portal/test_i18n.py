"""Chinese and English: every label a template or the portal's code names exists in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.db.models import DECISIONS, OBJECTION_STATUSES, OUTCOMES, PURPOSES
from api.portal import routes_enterprise
from api.portal.i18n import COLUMNS, TEXTS, choose_language, column, text
from api.portal.rendering import TEMPLATES_DIR
from api.regulator_metrics import DIMENSIONS

PORTAL_DIR = Path(routes_enterprise.__file__).parent
STATIC_KEY = re.compile(r"""\bt\(\s*['"]([a-z_][a-z0-9_.]*)['"]\s*\)""")
DYNAMIC_KEY = re.compile(r"""\bt\(\s*['"]([a-z_][a-z0-9_.]*\.)['"]\s*~""")
NAMESPACES = "|".join(sorted({k.split(".")[0] for k in TEXTS}))
CODE_KEY = re.compile(rf"""["']((?:{NAMESPACES})\.[a-z0-9_.]+)["']""")

DYNAMIC_VALUES: dict[str, tuple[str, ...]] = {
    "auth.purpose.": PURPOSES,
    "auth.status.": ("active", "expired", "revoked"),
    "auth.scope.": routes_enterprise.SCOPES,
    "access.outcome.": OUTCOMES,
    "obj.status.": OBJECTION_STATUSES,
    "reg.dim.": DIMENSIONS,
    "score.decision.": DECISIONS,
    "reg.alert.": ("score_drift", "discrimination"),
    "reg.severity.": ("watch", "act"),
    "reg.monitoring.table.": ("drift", "grades", "alerts"),
}
"""The values each key prefix built in a template (``t('auth.status.' ~ g.status)``) can take."""


def _templates() -> list[Path]:
    return sorted(TEMPLATES_DIR.rglob("*.html"))


def _keys_in_templates() -> set[str]:
    keys = set()
    for path in _templates():
        source = path.read_text(encoding="utf-8")
        quoted = {k for k in CODE_KEY.findall(source) if not k.endswith((".", ".html"))}  # keys passed to t() later
        keys |= set(STATIC_KEY.findall(source)) | quoted
        for prefix in DYNAMIC_KEY.findall(source):
            assert prefix in DYNAMIC_VALUES, f"{path.name}: say which values {prefix!r}… takes in DYNAMIC_VALUES"
            keys |= {prefix + value for value in DYNAMIC_VALUES[prefix]}
    return keys


def _keys_in_code() -> set[str]:
    keys = set()
    for path in PORTAL_DIR.glob("*.py"):
        if path.name != "i18n.py":
            keys |= set(CODE_KEY.findall(path.read_text(encoding="utf-8")))
    return {k for k in keys if not k.startswith("portal.") and not k.endswith((".html", ".csv", ".css"))}


def test_templates_use_labels() -> None:
    assert len(_keys_in_templates()) > 100


def test_every_key_a_template_or_the_code_names_has_both_languages() -> None:
    used = _keys_in_templates() | _keys_in_code()
    missing = sorted(k for k in used if k not in TEXTS)
    assert missing == []
    for key in used:
        chinese, english = TEXTS[key]
        assert chinese.strip() and english.strip(), key
        assert re.search(r"[\u4e00-\u9fff]", chinese) or chinese.isupper(), f"{key}: no Chinese in {chinese!r}"


def test_every_label_has_both_languages_and_no_key_is_unused() -> None:
    used = _keys_in_templates() | _keys_in_code()
    assert sorted(set(TEXTS) - used) == []
    for key, (chinese, english) in {**TEXTS, **COLUMNS}.items():
        assert chinese.strip() and english.strip(), key


def test_labels_switch_language() -> None:
    assert text("nav.logout", "zh") == "退出登录" and text("nav.logout", "en") == "Log out"
    assert column("disbursed_amount", "zh") == "发放金额" and column("not_a_column", "en") == "not_a_column"


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        ("en", "zh-CN", "en"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR, en;q=0.8, zh;q=0.9", "zh"),
        (None, "fr-FR", "zh"),
        (None, None, "zh"),
        ("klingon", "en", "en"),
        (None, "en;q=0, zh;q=0.1", "zh"),
    ],
)
def test_language_choice(cookie: str | None, header: str | None, expected: str) -> None:
    assert choose_language(cookie, header) == expected
