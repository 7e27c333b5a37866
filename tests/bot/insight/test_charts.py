"""Charts: well-formed SVG, every label escaped, accessible, nothing from elsewhere."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bot.insight.charts import Bar, Series, bar_chart, line_chart, number

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "a & b", "it's"]


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def _texts(element: ET.Element) -> list[str]:
    return ["".join(node.itertext()) for node in element.iter()]


def test_hostile_bar_labels_are_text_not_markup():
    chart = str(bar_chart("Top <b>intents</b>", [Bar(label, i + 1) for i, label in
                                                  enumerate(HOSTILE)]))
    assert "<script" not in chart and "<img" not in chart and "<b>" not in chart
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in chart
    figure = _parse(chart)
    # Parsed back, the labels are exactly what was given: text, in the SVG and the table.
    table_labels = [th.text for th in figure.iter("th") if th.get("scope") == "row"]
    assert table_labels == HOSTILE
    svg = figure.find(f"{SVG}svg")
    assert svg.get("aria-label") == "Top <b>intents</b>"
    assert svg.find(f"{SVG}title").text == "Top <b>intents</b>"
    assert not list(figure.iter("script")) and not list(figure.iter(f"{SVG}script"))
    assert not list(figure.iter("img"))


def test_hostile_line_labels_and_series_names_are_escaped():
    chart = str(line_chart("Mood", ["<day>", "2026-11-02"],
                           [Series("<script>x</script>", [0.5, None]), Series("ok", [1, 2])]))
    assert "<script" not in chart and "<day>" not in chart
    figure = _parse(chart)
    headings = [th.text for th in figure.iter("th") if th.get("scope") == "col"]
    assert headings == [None, "<script>x</script>", "ok"]
    assert [th.text for th in figure.iter("th") if th.get("scope") == "row"] == [
        "<day>", "2026-11-02"]


def test_bars_link_only_to_same_site_paths():
    chart = bar_chart("Intents", [
        Bar("a", 3, "/console/insight/conversations?intent=a&since=7d"),
        Bar("b", 2, "javascript:alert(1)"), Bar("c", 1, "//evil.example/x"),
        Bar("d", 1, "https://evil.example/")])
    links = [a.get("href") for a in _parse(chart).iter(f"{SVG}a")]
    assert links == ["/console/insight/conversations?intent=a&since=7d"]
    assert "javascript:" not in str(chart) and "evil.example" not in str(chart)


def test_a_chart_is_accessible_and_loads_nothing():
    chart = str(bar_chart("Conversations per day", [Bar("2026-11-02", 4), Bar("2026-11-03", 2)]))
    figure = _parse(chart)
    svg = figure.find(f"{SVG}svg")
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == "Conversations per day"
    assert figure.find("figcaption").text == "Conversations per day"
    cells = [td.text for td in figure.iter("td")]
    assert cells == ["4", "2"]
    assert "style=" not in chart  # a strict style-src would drop inline styles
    assert "http:" not in chart.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https:" not in chart


def test_bar_lengths_follow_the_values():
    svg = _parse(bar_chart("x", [Bar("big", 10), Bar("half", 5), Bar("none", 0)]))
    widths = [float(rect.get("width")) for rect in svg.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert widths[2] == 0


def test_a_line_breaks_where_nothing_was_measured():
    svg = _parse(line_chart("CSAT", ["d1", "d2", "d3", "d4"],
                            [Series("CSAT", [4.0, None, 3.0, 5.0])], low=1, high=5))
    path = next(svg.iter(f"{SVG}path")).get("d")
    assert path.count("M") == 2 and path.count("L") == 1
    assert len(list(svg.iter(f"{SVG}circle"))) == 3


def test_no_data_says_so():
    assert "No data in this period." in bar_chart("Top intents", [])
    assert "No data in this period." in line_chart("CSAT", ["d1"], [Series("CSAT", [None])])
    _parse(bar_chart("<x>", []))


@pytest.mark.parametrize("value, shown", [(3, "3"), (3.0, "3"), (0.125, "0.12"), (None, "–")])
def test_numbers(value, shown):
    assert number(value) == shown
