"""The profile feature catalogue (企业画像指标): every feature declared once, with its meaning and its words.

Models see the names as float columns and take monotone constraints from ``higher_is_riskier``; scoring turns
values into reasons with the templates, so a loan officer and the enterprise read the same words; the docs
page ``docs/features.md`` is generated from the same declarations (``python -m features.catalogue_doc``).

Conventions every definition follows (``features.profiles`` computes them, ``tests/features`` checks them
against a slow reference):

- *as of d*: only the version of each record the platform held on d (``features.asof.known_as_of``), and for
  penalties, court entries and lists only those still in force (``features.asof``: publication periods, repair,
  removal).
- *the last n months*: report periods from n − 1 months before d's month up to d's month; *months k–m back*:
  periods k to m months before d's month.
- Counts are 0 when there are no records; levels, ratios and amounts are missing (NaN) when their inputs are,
  and ``missing_means`` says what that stands for. Sums are over reported values: a sum with nothing reported
  is unknown (NaN), not zero, and a change needs both of its windows reported.
- Publication periods run in calendar months from the publication (or decision) date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CATALOGUE_VERSION = "3"
"""Bumped whenever a definition changes: snapshots and models record it, so profiles of two versions never mix."""

UNITS = ("months", "count", "people", "days", "ratio", "0/1", "ln(yuan)", "ln(kWh)", "ln(m³)", "code")
_WHOLE_UNITS = frozenset({"months", "count", "people", "days"})


@dataclass(frozen=True)
class FeatureSpec:
    """One profile feature: where it comes from, over which window, what it means, and how to say it."""

    name: str
    source: str
    window: str
    unit: str
    higher_is_riskier: bool | None
    label_zh: str
    label_en: str
    missing_means: str
    reason_zh: str
    reason_en: str
    definition: str
    actionable: bool = False
    value_names: tuple[tuple[str, str], ...] = ()
    """For codes: the (Chinese, English) name of each code value, so reasons say "C", not "3"."""

    @property
    def risk_direction(self) -> str:
        """'higher is riskier', 'lower is riskier' or 'no stated direction' (used in docs and constraints)."""
        if self.higher_is_riskier is None:
            return "no stated direction"
        return "higher is riskier" if self.higher_is_riskier else "lower is riskier"

    def _named(self, value: float, language: int) -> str | None:
        index = int(value) if float(value).is_integer() else -1
        if self.value_names and 0 <= index < len(self.value_names) and self.value_names[index][language]:
            return self.value_names[index][language]
        return None

    def display_zh(self, value: float) -> str:
        """The value in the words of a Chinese reason: 万元 for amounts, 是/否 for flags, % for ratios."""
        if (name := self._named(value, 0)) is not None:
            return name
        if self.unit == "0/1":
            return "是" if value >= 0.5 else "否"
        if self.unit == "ln(yuan)":
            yuan = math.expm1(value)
            return f"{yuan / 1e8:.2f}亿元" if yuan >= 1e8 else f"{yuan / 1e4:.1f}万元"
        if self.unit in ("ln(kWh)", "ln(m³)"):
            return _quantity(value)
        return self._number(value)

    def display_en(self, value: float) -> str:
        """The value in the words of an English reason."""
        if (name := self._named(value, 1)) is not None:
            return name
        if self.unit == "0/1":
            return "yes" if value >= 0.5 else "no"
        if self.unit == "ln(yuan)":
            return f"{math.expm1(value):,.0f} yuan"
        if self.unit in ("ln(kWh)", "ln(m³)"):
            return _quantity(value)
        return self._number(value)

    def _number(self, value: float) -> str:
        if self.unit == "ratio":
            return f"{value:+.0%}" if "change" in self.name or "growth" in self.name else f"{value:.0%}"
        if self.unit in _WHOLE_UNITS or float(value).is_integer():
            return f"{value:.0f}"
        return f"{value:.2f}"

    def reason_texts(self, value: float | None) -> tuple[str, str]:
        """The Chinese and English reason filled with the enterprise's own value; missing says what it means."""
        if value is None or math.isnan(value):
            return f"{self.label_zh}: 无数据", f"{self.label_en}: no data ({self.missing_means})"
        return (self.reason_zh.format(value=self.display_zh(value)),
                self.reason_en.format(value=self.display_en(value)))


def _quantity(value: float) -> str:
    """A ln(1 + quantity) as the quantity: whole units, one decimal below 10 (a month's gas per person)."""
    quantity = math.expm1(value)
    return f"{quantity:,.0f}" if quantity >= 10 else f"{quantity:.1f}"


def _catalogue() -> dict[str, FeatureSpec]:
    from features.catalogue_specs import SPECS

    specs: dict[str, FeatureSpec] = {}
    for spec in SPECS:
        if spec.name in specs:
            raise ValueError(f"feature {spec.name!r} is declared twice")
        if spec.unit not in UNITS:
            raise ValueError(f"feature {spec.name!r}: unit {spec.unit!r} is not one of {UNITS}")
        for template in (spec.reason_zh, spec.reason_en):
            if "{value}" not in template:
                raise ValueError(f"feature {spec.name!r}: reason template {template!r} lacks {{value}}")
        specs[spec.name] = spec
    return specs


FEATURE_SPECS: dict[str, FeatureSpec] = _catalogue()
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURE_SPECS)
