"""The feature catalogue: declared once, complete, and the docs page is exactly what it renders."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from features import catalogue
from features.catalogue import FEATURE_NAMES, FEATURE_SPECS, FeatureSpec
from features.catalogue_doc import DOC_PATH, main, render
from features.profiles import SOURCES


def test_the_catalogue_covers_every_source_with_at_least_sixty_features() -> None:
    assert len(FEATURE_NAMES) >= 60
    assert {spec.source for spec in FEATURE_SPECS.values()} == set(SOURCES)


def test_reasons_read_with_the_enterprises_own_value() -> None:
    assert FEATURE_SPECS["si_arrears_months_12m"].reason_texts(3.0) == (
        "近12个月社保欠缴3个月", "3 months of social-insurance arrears in the last 12")
    zh, en = FEATURE_SPECS["sales_12m_log"].reason_texts(13.0)  # ln(1 + 442,412 yuan)
    assert zh == "近12个月开票销售额44.2万元" and en == "invoiced sales of 442,412 yuan over the last 12 months"
    zh, en = FEATURE_SPECS["headcount_latest"].reason_texts(float("nan"))
    assert zh == "最近参保人数: 无数据" and "no social-insurance record in the last 3 months" in en


def test_a_second_declaration_or_a_bad_template_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from features import catalogue_specs

    spec = FEATURE_SPECS["age_months"]
    monkeypatch.setattr(catalogue_specs, "SPECS", (spec, spec))
    with pytest.raises(ValueError, match="declared twice"):
        catalogue._catalogue()
    broken = FeatureSpec(**{**spec.__dict__, "reason_en": "founded long ago"})
    monkeypatch.setattr(catalogue_specs, "SPECS", (broken,))
    with pytest.raises(ValueError, match="lacks"):
        catalogue._catalogue()


def test_the_committed_page_is_the_rendered_page() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "run `python -m features.catalogue_doc` and commit"
    assert all(f"`{name}`" in render() for name in FEATURE_NAMES)


def test_check_reports_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "features.md"
    stale.write_text("old", encoding="utf-8")
    assert main(["--check", "--output", str(stale)]) == 1
    assert main(["--output", str(stale)]) == 0 and main(["--check", "--output", str(stale)]) == 0


def test_codes_read_as_their_names_not_numbers() -> None:
    assert FEATURE_SPECS["tax_grade_worst_3y"].reason_texts(3.0) == (
        "近三年最差纳税信用级别C级", "worst tax credit grade in 3 years: C")
    assert FEATURE_SPECS["size_class_code"].reason_texts(0.0) == ("企业规模: 微型", "size class: micro")
    assert FEATURE_SPECS["industry_section_code"].reason_texts(3.0)[1] == "industry section C"
    assert FEATURE_SPECS["region_province_code"].reason_texts(41.0)[1] == "province code 41"  # no names: the code


def test_small_quantities_keep_a_decimal_and_changes_read_signed() -> None:
    assert FEATURE_SPECS["gas_per_head_12m_log"].reason_texts(math.log1p(3.24))[1] == (
        "3.2 m³ of gas a month per insured person over 12 months")
    assert FEATURE_SPECS["electricity_12m_log"].reason_texts(math.log1p(123_456))[1] == (
        "123,456 kWh of electricity over the last 12 months")
    assert FEATURE_SPECS["headcount_change_vs_mean_36m"].reason_texts(0.05)[0] == "参保人数较近36个月均值+5%"
