"""Policy rules (联合惩戒) declared as data: loaded and validated at start, applied to an enterprise's records.

A rule set is a versioned JSON file (``scoring/rules/policy_v1.json``). Each rule names the source and the
kinds of record that trigger it, its action (``decline`` or ``refer``), its policy basis and the words it
says, with placeholders for the cited record. Rules read only records already in force
(``scoring.facts.policy_records``), so a repaired, removed or expired record never triggers one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from string import Formatter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from features.schemas import JUDICIAL_KINDS, LIST_NAMES, TAX_CREDIT_GRADES
from scoring.types import PolicyHit, PolicyRecord

DEFAULT_RULES = Path(__file__).with_name("rules") / "policy_v1.json"
KINDS_BY_SOURCE: dict[str, tuple[str, ...]] = {
    "list_entries": LIST_NAMES,
    "judicial": JUDICIAL_KINDS,
    "tax_credit_grade": TAX_CREDIT_GRADES,
}
"""The sources a rule may read and the kinds of record each holds (list, judicial kind, grade)."""
PLACEHOLDERS = ("source", "kind", "since", "reason", "record_key")
"""What a rule's text may cite of its record."""
NOT_STATED = {"zh": "未注明", "en": "not stated"}


class RuleSetError(ValueError):
    """A policy rules file that cannot be used; the message names the file, the rule and the field."""


class PolicyRule(BaseModel):
    """One rule: records of ``source`` whose kind is in ``kinds`` lead to ``action``, saying ``text_zh``/``text_en``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    action: Literal["decline", "refer"]
    source: Literal["list_entries", "judicial", "tax_credit_grade"]
    kinds: tuple[str, ...] = Field(min_length=1)
    basis: str = Field(min_length=1)
    text_zh: str = Field(min_length=1)
    text_en: str = Field(min_length=1)

    @field_validator("kinds")
    @classmethod
    def _kinds_of_the_source(cls, kinds: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        source = info.data.get("source")
        if source is None:  # the source's own error is reported
            return kinds
        allowed = KINDS_BY_SOURCE[source]
        unknown = [kind for kind in kinds if kind not in allowed]
        if unknown:
            raise ValueError(f"{unknown} are not kinds of {source}; expected some of {', '.join(allowed)}")
        return kinds

    @field_validator("text_zh", "text_en")
    @classmethod
    def _known_placeholders(cls, text: str) -> str:
        try:
            names = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
        except ValueError as exc:
            raise ValueError(f"not a valid template ({exc})") from None
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(f"unknown placeholders {unknown}; a rule may cite {', '.join(PLACEHOLDERS)}")
        return text

    def matches(self, record: PolicyRecord) -> bool:
        """True when the record is of this rule's source and one of its kinds."""
        return record.source == self.source and record.kind in self.kinds

    def hit(self, record: PolicyRecord, version: str) -> PolicyHit:
        """The hit of this rule on ``record``, its words filled with the record's own values."""
        def say(template: str, language: str) -> str:
            return template.format(source=record.source, kind=record.kind, since=record.since.isoformat(),
                                   reason=record.reason or NOT_STATED[language], record_key=record.record_key)

        return PolicyHit(self.id, version, self.action, record, say(self.text_zh, "zh"), say(self.text_en, "en"))


class RuleSet(BaseModel):
    """A versioned set of policy rules; every result names the version that applied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=40)
    effective_from: date
    description: str = ""
    rules: tuple[PolicyRule, ...] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: tuple[PolicyRule, ...]) -> tuple[PolicyRule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return rules

    def evaluate(self, records: Iterable[PolicyRecord]) -> tuple[PolicyHit, ...]:
        """Every (rule, record) that applies, declines first, then in the file's order of rules."""
        records = tuple(records)
        hits = [rule.hit(record, self.version) for rule in self.rules for record in records if rule.matches(record)]
        return tuple(sorted(hits, key=lambda hit: hit.action != "decline"))


def _where(loc: tuple[int | str, ...], data: Any) -> str:
    """'rule <id>, field <name>' for an error inside a rule, else 'field <name>'."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        raw = data.get("rules", []) if isinstance(data, dict) else []
        entry = raw[loc[1]] if loc[1] < len(raw) else None
        rule_id = entry.get("id") if isinstance(entry, dict) and entry.get("id") else f"#{loc[1] + 1}"
        field = ".".join(str(part) for part in loc[2:]) or "(the rule)"
        return f"rule {rule_id!r}, field {field!r}"
    return f"field {'.'.join(str(part) for part in loc) or '(top level)'!r}"


def parse_rule_set(data: Any, origin: str = "policy rules") -> RuleSet:
    """Validate already-parsed rules; RuleSetError names ``origin``, the rule and the field of each problem."""
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_where(tuple(error['loc']), data)}: {error['msg'].removeprefix('Value error, ')}"
                    for error in exc.errors()]
        raise RuleSetError(f"{origin}: " + "; ".join(problems)) from None


def load_rule_set(path: Path | None = None) -> RuleSet:
    """Read and validate a rules file (default: the packaged ``policy_v1.json``)."""
    path = path or DEFAULT_RULES
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleSetError(f"{path}: cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise RuleSetError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return parse_rule_set(data, str(path))
