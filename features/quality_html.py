"""The data-quality report as one self-contained HTML page: inline CSS and SVG bar charts, no JavaScript.

Every text taken from the data is escaped; labels are in Chinese and English for operators and regulators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from features.schemas import SOURCES_BY_NAME

_CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1em}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.85em}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f3f3f3}
td.text,th.text{text-align:left}.pass{color:#17702f;font-weight:bold}.fail{color:#b3261e;font-weight:bold}
.none{color:#888}svg{display:block;margin:0.5em 0 1em}svg text{font-size:12px}
"""
_MEASURE_HEADERS = ("读取 Read", "入库 Accepted", "隔离 Quarantined", "重复 Duplicates", "更正 Corrections",
                    "合格率 Qualified", "代码错误 USCC wrong", "代码错误率 rate", "≤ 0.01 %", "未登记 Unregistered",
                    "重复率 Duplicate rate", "≤ 0.01 %")
_TIMELINESS_HEADERS = ("记录 Records", "按时 On time", "迟报 Late", "漏报 Missing", "未到期 Pending",
                       "无法判定 Unjudged", "及时率 On-time rate", "100 %", "双清零 Cleared")
_NONE = '<span class="none">—</span>'


def _e(value: Any) -> str:
    return escape(str(value))


def _number(value: int | None) -> str:
    return _NONE if value is None else f"{value:,}"


def _percent(rate: float | None, digits: int = 2) -> str:
    return _NONE if rate is None else f"{rate * 100:.{digits}f} %"


def _flag(ok: bool | None) -> str:
    if ok is None:
        return _NONE
    return '<span class="pass">达标 pass</span>' if ok else '<span class="fail">未达标 fail</span>'


def _source_label(source: str) -> str:
    spec = SOURCES_BY_NAME.get(source)
    return f"{spec.label_zh} {source}" if spec is not None else source


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """A table whose cells are already HTML; the first ``text_columns`` are left-aligned labels."""
    def cell(tag: str, i: int, content: str) -> str:
        return f'<{tag} class="text">{content}</{tag}>' if i < text_columns else f"<{tag}>{content}</{tag}>"
    head = "".join(cell("th", i, _e(h)) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _bar_chart(title: str, bars: Sequence[tuple[str, float | None, str]], scale: float) -> str:
    """Horizontal bars: (label, value or None, text shown after the bar), drawn against ``scale``."""
    label_width, bar_width, row_height = 260, 420, 22
    height = row_height * len(bars) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + bar_width + 110}" height="{height}" '
             f'role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>',
             f'<text x="0" y="14" font-weight="bold">{_e(title)}</text>']
    for i, (label, value, text) in enumerate(bars):
        y = 24 + i * row_height
        length = 0.0 if value is None or scale <= 0 else max(0.0, min(1.0, value / scale)) * bar_width
        parts.append(f'<text x="0" y="{y + 14}">{_e(label)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{bar_width}" height="14" fill="#eee" />')
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="14" fill="#3b6ea5" />')
        parts.append(f'<text x="{label_width + bar_width + 6}" y="{y + 14}">{_e(text)}</text>')
    return "\n".join([*parts, "</svg>"]) + "\n"


def _measure_cells(m: Mapping[str, Any]) -> list[str]:
    return [_number(m["read"]), _number(m["accepted"]), _number(m["quarantined"]), _number(m["duplicates"]),
            _number(m["corrections"]), _percent(m["qualified_rate"]), _number(m["uscc_wrong"]),
            _percent(m["uscc_wrong_rate"], 3), _flag(m["uscc_wrong_meets_target"]), _number(m["uscc_unregistered"]),
            _percent(m["duplicate_rate"], 3), _flag(m["duplicate_meets_target"])]


def _timeliness_cells(t: Mapping[str, Any]) -> list[str]:
    return [_number(t["records"]), _number(t["on_time"]), _number(t["late"]), _number(t["missing"]),
            _number(t["pending"]), _number(t["unjudged"]), _percent(t["on_time_rate"]),
            _flag(t["on_time_meets_target"]), _flag(t["cleared"])]


def _sources_section(report: Mapping[str, Any]) -> str:
    sources = report["sources"]
    rows = [[_e(_source_label(s["source"])), *_measure_cells(s)] for s in sources]
    rows.append(["<strong>合计 Total</strong>", *_measure_cells(report["total"])])
    chart = _bar_chart("合格率 Qualified rate by source",
                       [(_source_label(s["source"]), s["qualified_rate"], _percent(s["qualified_rate"]))
                        for s in sources], 1.0)
    departments = [[_e(_source_label(s["source"])), _e(d["department"]), *_measure_cells(d)]
                   for s in sources for d in s["departments"]]
    return ("<h2>各来源 By source</h2>\n" + _table(("来源 Source", *_MEASURE_HEADERS), rows) + chart
            + "<h2>各提供部门 By providing department</h2>\n"
            + "<p>行内自带部门的来源（行政管理信息、司法、名单、承诺）无法把完全重复的行归到部门：重复数显示为 —。"
              " Where rows name their own department, exact repeats cannot be attributed: shown as —.</p>\n"
            + _table(("来源 Source", "部门 Department", *_MEASURE_HEADERS), departments, text_columns=2))


def _timeliness_section(timeliness: Mapping[str, Any]) -> str:
    overall, by_department = timeliness["overall"], timeliness["by_department"]
    kinds = "、".join(timeliness["kinds"])
    intro = (f"<p>{_e(kinds)}：决定后 {timeliness['working_days']} 个工作日内公示（含调休）。 Published within "
             f"{timeliness['working_days']} working days of the decision (make-up working days counted). "
             "及时率 = 按时 / (按时 + 迟报 + 漏报); on-time rate = on time / (on time + late + missing).</p>\n")
    chart = _bar_chart("及时率 On-time rate by department",
                       [(d["department"], d["on_time_rate"], _percent(d["on_time_rate"])) for d in by_department],
                       1.0)
    late = [[_e(r["record_id"]), _e(r["kind"]), _e(r["department"]), _e(r["decision_date"]), _e(r["deadline"]),
             _e(r["published_on"]), _number(r["working_days_late"])] for r in timeliness["late_records"]]
    missing = [[_e(r["record_id"]), _e(r["kind"]), _e(r["department"]), _e(r["decision_date"]), _e(r["deadline"]),
                _number(r["working_days_overdue"])] for r in timeliness["missing_records"]]
    return ("<h2>双公示及时性 Publication timeliness</h2>\n" + intro
            + _table(("", *_TIMELINESS_HEADERS), [["合计 Total", *_timeliness_cells(overall)]]) + chart
            + "<h3>按部门 By department</h3>\n"
            + _table(("部门 Department", *_TIMELINESS_HEADERS),
                     [[_e(d["department"]), *_timeliness_cells(d)] for d in by_department])
            + "<h3>按类别 By kind</h3>\n"
            + _table(("类别 Kind", *_TIMELINESS_HEADERS),
                     [[_e(k["kind"]), *_timeliness_cells(k)] for k in timeliness["by_kind"]])
            + f"<h3>迟报记录 Late records (first {len(late)} of {overall['late']})</h3>\n"
            + _table(("决定文书号 Record", "类别 Kind", "部门 Department", "决定日期 Decided", "截止日 Deadline",
                      "公示日期 Published", "迟报工作日 Working days late"), late, text_columns=3)
            + f"<h3>漏报记录 Missing records (first {len(missing)} of {overall['missing']})</h3>\n"
            + _table(("决定文书号 Record", "类别 Kind", "部门 Department", "决定日期 Decided", "截止日 Deadline",
                      "逾期工作日 Working days overdue"), missing, text_columns=3))


def _quarantine_section(report: Mapping[str, Any]) -> str:
    by_rule = report["total"]["by_rule"]
    chart = _bar_chart("隔离行数 Quarantined rows by rule", [(rule, n, f"{n:,}") for rule, n in by_rule.items()],
                       float(max(by_rule.values(), default=0)))
    rows = [[_e(_source_label(s["source"])), _e(rule), _number(n)] for s in report["sources"]
            for rule, n in s["by_rule"].items()]
    return ("<h2>隔离规则 Quarantine by rule</h2>\n" + chart
            + _table(("来源 Source", "规则 Rule", "行数 Rows"), rows, text_columns=2))


def render_quality_html(report: Mapping[str, Any]) -> str:
    """The whole page for one report from ``features.quality.build_quality_report``."""
    targets = report["targets"]
    header = (f"<h1>数据质量报告 Data-quality report</h1>\n<p>地区 Region: {_e(report['region'])} · "
              f"抽取日期 Extracted on: {_e(report['extracted_on'])}</p>\n"
              f"<p>目标 Targets: 代码错误率、重复率 ≤ {_percent(targets['uscc_wrong_rate_max'])} "
              f"(USCC wrong and duplicate rates); 双公示及时率 {_percent(targets['on_time_rate'])}, "
              "迟报、漏报 0 (双清零: no late, no missing).</p>\n")
    body = header + _sources_section(report) + _timeliness_section(report["timeliness"]) + _quarantine_section(report)
    return ('<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            f"<title>数据质量报告 {_e(report['region'])} {_e(report['extracted_on'])}</title>\n"
            f"<style>{_CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n")
