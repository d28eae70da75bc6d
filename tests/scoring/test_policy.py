"""Policy rules (联合惩戒): each rule fires on a record in force, cites it, and stops after repair, removal or expiry.

The records go through the real ingest (tests/utils/raw_files.py) and ``scoring.facts``, so the cut is the one
``features.asof`` makes: a removal counts only from the day the platform learnt it.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.ingest import ingest_region
from scoring.facts import load_fact_tables, policy_facts_as_of
from scoring.policy import DEFAULT_RULES, RuleSet, RuleSetError, load_rule_set, parse_rule_set
from scoring.types import PolicyHit
from tests.utils.raw_files import judicial_row, list_entry_row, registration_row, tax_grade_row, uscc_for, write_region

T = pd.Timestamp
BLACK, DEBTOR, GRADE_D, ABNORMAL, CLEAN = (uscc_for(n) for n in (11, 12, 13, 14, 15))


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root: Path = tmp_path_factory.mktemp("policy")
    rows = {
        "registration": [registration_row(u) for u in (BLACK, DEBTOR, GRADE_D, ABNORMAL, CLEAN)],
        "list_entries": [
            # black list from 2023-01-10 (known 01-12); credit repaired: exit 2024-03-01, known 2024-03-04
            list_entry_row("BL-7", BLACK, list_name="black", entered_on="2023-01-10", exited_on="",
                           reason="拒不履行法定义务", available_on="2023-01-12"),
            list_entry_row("BL-7", BLACK, list_name="black", entered_on="2023-01-10", exited_on="2024-03-01",
                           reason="拒不履行法定义务", available_on="2024-03-04"),
            # abnormal-operations entry from 2023-05-01, removed 2023-11-20 once the annual report was filed
            list_entry_row("AB-3", ABNORMAL, list_name="abnormal", entered_on="2023-05-01", exited_on="",
                           reason="未按时报送年报", available_on="2023-05-03"),
            list_entry_row("AB-3", ABNORMAL, list_name="abnormal", entered_on="2023-05-01",
                           exited_on="2023-11-20", reason="未按时报送年报", available_on="2023-11-22"),
            # a red list entry is no rule's business
            list_entry_row("RD-1", CLEAN, list_name="red", entered_on="2023-02-01", exited_on="", reason="A级纳税人",
                           available_on="2023-02-02"),
        ],
        "judicial": [
            judicial_row("(2023)粤03执123号", DEBTOR, kind="失信被执行人", listed_on="2023-02-01", removed_on="",
                         available_on="2023-02-03"),
            judicial_row("(2023)粤03执123号", DEBTOR, kind="失信被执行人", listed_on="2023-02-01",
                         removed_on="2024-01-15", available_on="2024-01-20"),
            # an ordinary enforcement case (被执行人) triggers no rule
            judicial_row("(2023)粤03执456号", CLEAN, kind="被执行人", listed_on="2023-03-01", removed_on="",
                         available_on="2023-03-02"),
        ],
        "tax_credit_grade": [
            tax_grade_row(GRADE_D, year="2022", grade="D", evaluated_on="2023-04-15", available_on="2023-04-20"),
            tax_grade_row(GRADE_D, year="2023", grade="B", evaluated_on="2024-04-15", available_on="2024-04-20"),
            tax_grade_row(CLEAN, year="2023", grade="A", evaluated_on="2024-04-15", available_on="2024-04-20"),
        ],
    }
    raw = write_region(root / "raw", rows)
    ingest_region(raw, root / "out")
    return load_fact_tables(root / "out")


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rule_set()


def hits(tables: dict[str, pd.DataFrame], rules: RuleSet, uscc: str, on: str) -> list[PolicyHit]:
    return list(rules.evaluate(policy_facts_as_of(tables, T(on), uscc).records))


@pytest.mark.parametrize(
    ("uscc", "rule_id", "action", "before", "during", "after"),
    [
        (BLACK, "serious_dishonesty_list", "decline", "2023-01-11", "2024-03-03", "2024-03-04"),
        (DEBTOR, "dishonest_judgement_debtor", "decline", "2023-02-02", "2024-01-19", "2024-01-20"),
        (GRADE_D, "tax_credit_grade_d", "refer", "2023-04-19", "2024-04-19", "2024-04-20"),
        (ABNORMAL, "abnormal_operations_list", "refer", "2023-05-02", "2023-11-21", "2023-11-22"),
    ],
)
def test_a_rule_fires_only_while_its_record_is_in_force(
    tables: dict[str, pd.DataFrame], rules: RuleSet, uscc: str, rule_id: str, action: str,
    before: str, during: str, after: str,
) -> None:
    assert hits(tables, rules, uscc, before) == []  # not yet known to the platform
    fired = hits(tables, rules, uscc, during)
    assert [(h.rule_id, h.action, h.rule_version) for h in fired] == [(rule_id, action, "policy-v1")]
    assert hits(tables, rules, uscc, after) == []  # repaired, removed, or superseded by a newer grade


def test_a_black_list_hit_cites_the_entry(tables: dict[str, pd.DataFrame], rules: RuleSet) -> None:
    (hit,) = hits(tables, rules, BLACK, "2023-06-30")
    assert hit.record.source == "list_entries"
    assert (hit.record.kind, hit.record.since, hit.record.record_key) == ("black", date(2023, 1, 10), "BL-7")
    assert hit.record.reason == "拒不履行法定义务"
    assert "BL-7" in hit.text_zh and "2023-01-10" in hit.text_zh and "拒不履行法定义务" in hit.text_zh
    assert "serious-dishonesty list" in hit.text_en and "policy decline" in hit.text_en


def test_a_dishonest_debtor_hit_cites_the_case_and_court(tables: dict[str, pd.DataFrame], rules: RuleSet) -> None:
    (hit,) = hits(tables, rules, DEBTOR, "2023-06-30")
    assert (hit.record.source, hit.record.kind) == ("judicial", "失信被执行人")
    assert hit.record.record_key == "(2023)粤03执123号"
    assert "(2023)粤03执123号" in hit.text_zh and "深圳市中级人民法院" in hit.text_zh


def test_the_d_grade_rule_reads_the_latest_known_grade(tables: dict[str, pd.DataFrame], rules: RuleSet) -> None:
    (hit,) = hits(tables, rules, GRADE_D, "2023-12-31")
    assert (hit.record.kind, hit.record.record_key, hit.record.since) == ("D", "2022", date(2023, 4, 15))
    assert "2022" in hit.text_en and "grade is D" in hit.text_en


def test_red_list_and_ordinary_enforcement_trigger_nothing(tables: dict[str, pd.DataFrame], rules: RuleSet) -> None:
    facts = policy_facts_as_of(tables, T("2024-06-30"), CLEAN)
    assert {(r.source, r.kind) for r in facts.records} == {
        ("list_entries", "red"), ("judicial", "被执行人"), ("tax_credit_grade", "A")}
    assert rules.evaluate(facts.records) == ()


def test_a_missing_reason_is_said_as_not_stated(rules: RuleSet) -> None:
    from scoring.types import PolicyRecord

    (hit,) = rules.evaluate([PolicyRecord("list_entries", "abnormal", date(2024, 1, 2), None, "AB-9")])
    assert "未注明" in hit.text_zh and "not stated" in hit.text_en


def test_declines_come_before_refers(rules: RuleSet) -> None:
    from scoring.types import PolicyRecord

    records = [PolicyRecord("list_entries", "abnormal", date(2024, 1, 2), "x", "AB-9"),
               PolicyRecord("list_entries", "black", date(2024, 1, 3), "y", "BL-9")]
    assert [h.action for h in rules.evaluate(records)] == ["decline", "refer"]


# --- the rules file ---------------------------------------------------------------------------------------


def packaged() -> dict:
    return json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))


def test_the_packaged_rules_have_a_version_and_the_four_rules() -> None:
    rules = load_rule_set()
    assert rules.version == "policy-v1"
    assert {(r.id, r.action) for r in rules.rules} == {
        ("serious_dishonesty_list", "decline"), ("dishonest_judgement_debtor", "decline"),
        ("tax_credit_grade_d", "refer"), ("abnormal_operations_list", "refer")}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["rules"][0].update(kinds=["blak"]), "rule 'serious_dishonesty_list', field 'kinds'"),
        (lambda d: d["rules"][1].update(action="ban"), "rule 'dishonest_judgement_debtor', field 'action'"),
        (lambda d: d["rules"][2].update(source="tax_monthly"), "rule 'tax_credit_grade_d', field 'source'"),
        (lambda d: d["rules"][3].update(text_en="since {entered}"), "rule 'abnormal_operations_list', field 'text_en'"),
        (lambda d: d["rules"][3].pop("basis"), "rule 'abnormal_operations_list', field 'basis'"),
        (lambda d: d["rules"][0].update(severity="high"), "rule 'serious_dishonesty_list', field 'severity'"),
        (lambda d: d["rules"][1].update(id="serious_dishonesty_list"), "used twice"),
        (lambda d: d.pop("version"), "field 'version'"),
        (lambda d: d.update(effective_from="soon"), "field 'effective_from'"),
    ],
)
def test_a_malformed_rules_file_is_refused_naming_rule_and_field(tmp_path: Path, change, named: str) -> None:
    data = packaged()
    change(data)
    path = tmp_path / "policy_bad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"policy_bad\.json") as refused:
        load_rule_set(path)
    assert named in str(refused.value)


def test_a_rules_file_that_is_not_json_is_refused_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"version": "x",\n  "rules": [}', encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"broken.json: not valid JSON at line 2"):
        load_rule_set(path)


def test_a_missing_rules_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError, match="cannot be read"):
        load_rule_set(tmp_path / "nowhere.json")


def test_a_rule_without_an_id_is_named_by_its_position() -> None:
    data = packaged()
    del data["rules"][2]["id"]
    with pytest.raises(RuleSetError, match=r"rule '#3', field 'id'"):
        parse_rule_set(data)
