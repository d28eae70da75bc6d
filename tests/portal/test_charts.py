"""Server-drawn SVG charts: bars in proportion, gaps for missing values, labels escaped, no style attributes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from api.portal.charts import bar_line_chart, format_number, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_bar_heights_are_proportional_to_values() -> None:
    root = _parse(bar_line_chart(["2025-01", "2025-02", "2025-03"], [100.0, 200.0, 400.0], title="t", bar_name="b"))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == "#3b6ea5" and r.find(f"{SVG}title") is not None]
    heights = [float(r.get("height", "0")) for r in bars]
    assert len(heights) == 3
    assert heights[1] == pytest.approx(2 * heights[0], rel=0.01)
    assert heights[2] == pytest.approx(4 * heights[0], rel=0.01)


def test_missing_values_leave_a_gap_in_the_line() -> None:
    root = _parse(bar_line_chart(["a", "b", "c", "d"], [1, 1, 1, 1], [0.1, None, 0.3, float("nan")],
                                 title="t", bar_name="b", line_name="l"))
    lines = list(root.iter(f"{SVG}polyline"))
    assert [len(p.get("points", "").split()) for p in lines] == [1, 1]


def test_labels_are_escaped_and_no_style_attribute_is_used() -> None:
    svg = str(bar_line_chart(["<script>"], [5], title="a & b", bar_name="<b>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert not re.search(r"\sstyle=", svg)
    _parse(svg)  # well-formed


def test_bands_are_drawn_as_dashed_lines_with_their_values() -> None:
    root = _parse(line_chart(["m1", "m2"], [0.05, 0.3], title="PSI", name="psi", bands=(0.1, 0.25)))
    dashed = [line for line in root.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 2
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "0.1" in texts and "0.25" in texts


def test_ticks_cover_the_range_with_round_steps() -> None:
    assert nice_ticks(0, 0.27) == [0.0, 0.1, 0.2, 0.3]
    assert nice_ticks(0, 950) == [0, 250, 500, 750, 1000]
    assert format_number(0.123, percent=True) == "12%"
    assert format_number(2_500_000) == "250.0万"


def test_series_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ValueError, match="one bar per label"):
        bar_line_chart(["a"], [1, 2], title="t", bar_name="b")
