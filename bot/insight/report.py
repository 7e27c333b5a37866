"""The insight report: the dashboard's numbers as one self-contained HTML file and Markdown.

`write_report` reads the exchange log once (`bot.insight.metrics.insight`) and writes
`report.html` (inline CSS and inline SVG, nothing loaded from anywhere, readable offline
by a brand manager) and `report.md`. The KPI tiles and charts are built here for both the
report and the hub's dashboard, so the two always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional

import jinja2
from markupsafe import Markup
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import RapportError, StoreUnavailable
from bot.insight.charts import Bar, Series, bar_chart, line_chart, number
from bot.insight.metrics import Insight, Kpis, insight
from bot.insight.period import Period

# Query parameters for the conversations behind a number, or None when there are none.
LinkFor = Callable[[dict[str, str]], Optional[str]]


class ReportNotWritten(RapportError, OSError):
    """The report's directory or files could not be written."""


@dataclass(frozen=True)
class Tile:
    """One KPI as shown: its name, value, what it means and which conversations it counts."""

    name: str
    value: str
    detail: str
    drill: dict[str, str] = field(default_factory=dict)


def percent(rate: Optional[float]) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def wait(seconds: Optional[float]) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def signed(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:+.2f}"


def tiles(k: Kpis) -> list[Tile]:
    """The KPI tiles of one channel (or all), in the order a reader scans them."""
    csat = "–" if k.csat_average is None else f"{k.csat_average:.2f}"
    return [
        Tile("Conversations", str(k.conversations), "started in the period"),
        Tile("Customer messages", str(k.customer_messages), "sent by customers"),
        Tile("Containment", percent(k.containment_rate),
             f"{k.contained} resolved without a person", {"outcome": "contained"}),
        Tile("Escalation", percent(k.escalation_rate), f"{k.escalated} handed to a person",
             {"outcome": "escalated"}),
        Tile("Abandonment", percent(k.abandonment_rate), f"{k.abandoned} left unfinished",
             {"outcome": "abandoned"}),
        Tile("Average CSAT", csat, f"from {k.csat_responses} ratings (1–5)", {"rated": "yes"}),
        Tile("Fallback rate", percent(k.fallback_rate),
             f"{k.fallbacks} messages not understood", {"fallback": "yes"}),
        Tile("Handoff wait", wait(k.handoff_wait_s),
             f"average until claimed; {k.handoffs_claimed} claimed", {"handoff": "yes"}),
        Tile("Service recovery", percent(k.service_recovery_rate),
             f"{k.recovered} of {k.complaints} complaints: remedy accepted, CSAT 4–5",
             {"recovered": "yes"}),
        Tile("Sentiment change", signed(k.sentiment_change),
             f"last minus first turn, {k.sentiment_measured} conversations"),
    ]


def _no_links(_: dict[str, str]) -> Optional[str]:
    return None


def charts(data: Insight, link: LinkFor = _no_links) -> list[Markup]:
    """Volume, top intents, complaint categories, voice of the customer, sentiment, CSAT."""
    days = [d.day.isoformat() for d in data.volume]
    day_links = [link({"since": day, "until": day}) for day in days]  # a bare until: that day
    intents = [Bar(i.label, i.count, link({"intent": i.label})) for i in data.intents]
    categories = [Bar(f"{c.product} · {c.issue_type}", c.count,
                      link({"complaint": "yes", **({} if c.product == "unknown"
                                                  else {"product": c.product})}))
                  for c in data.categories]
    themes = [Bar(f"{t.kind} · {t.product}", t.count,
                  link({"intent": t.kind, **({} if t.product == "any product"
                                             else {"product": t.product})}))
              for t in data.themes]
    trend_days = [t.day.isoformat() for t in data.trends]
    return [
        line_chart("Conversations per day", days,
                   [Series("conversations", [d.conversations for d in data.volume]),
                    Series("customer messages", [d.customer_messages for d in data.volume])],
                   low=0.0, links=day_links),
        bar_chart("Top intents", intents),
        bar_chart("Complaints by product and issue", categories),
        bar_chart("Voice of the customer: praise and suggestions", themes),
        line_chart("Sentiment per day (−1 to +1)", trend_days,
                   [Series("first turn", [t.first_sentiment for t in data.trends]),
                    Series("last turn", [t.last_sentiment for t in data.trends])],
                   low=-1.0, high=1.0),
        line_chart("Average CSAT per day (1 to 5)", trend_days,
                   [Series("CSAT", [t.csat_average for t in data.trends])], low=1.0, high=5.0),
    ]


# -- the files ----------------------------------------------------------------------------

_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));gap:.75rem}
.tile{border:1px solid #ddd;border-radius:6px;padding:.75rem}
.tile .value{font-size:1.5rem;font-weight:600;display:block}
.tile .name{font-size:.85rem;color:#555}.tile .detail{font-size:.75rem;color:#777}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;
text-align:right}th[scope=row],thead th:first-child{text-align:left}
figure{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.5rem}
svg{max-width:100%;height:auto}.chart-data{font-size:.8rem}.chart-data summary{color:#555}
</style></head>
<body>
<h1>{{ title }}</h1>
<p>{{ period_text }}. Generated {{ generated }} UTC from the exchange log (customer text redacted).</p>
<h2>All channels</h2>
<div class="tiles">{% for tile in total %}<div class="tile"><span class="name">{{ tile.name }}</span>
<span class="value">{{ tile.value }}</span><span class="detail">{{ tile.detail }}</span></div>{% endfor %}</div>
{% if by_channel %}<h2>By channel</h2>
<table><thead><tr><th scope="col">Channel</th>{% for tile in by_channel[0][1] %}<th scope="col">{{ tile.name }}</th>{% endfor %}</tr></thead>
<tbody>{% for channel, row in by_channel %}<tr><th scope="row">{{ channel }}</th>{% for tile in row %}<td>{{ tile.value }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>{% endif %}
<h2>Trends and themes</h2>
{% for chart in charts %}{{ chart }}{% endfor %}
</body></html>
"""


def period_text(period: Period) -> str:
    text = f"From {period.since:%Y-%m-%d %H:%M} to {period.until:%Y-%m-%d %H:%M} UTC"
    return text + (f", channel {period.channel}" if period.channel else ", all channels")


def channel_name(channel: Optional[str]) -> str:
    return channel or "unknown"


def render_html(data: Insight, generated: datetime) -> str:
    """The report as one HTML page with everything inline."""
    env = jinja2.Environment(autoescape=True)
    return env.from_string(_HTML).render(
        title="Rapport insight report", period_text=period_text(data.kpis.period),
        generated=f"{generated:%Y-%m-%d %H:%M}", total=tiles(data.kpis.total),
        by_channel=[(channel_name(k.channel), tiles(k)) for k in data.kpis.by_channel],
        charts=charts(data))


def md(text: object) -> str:
    """Text safe inside a Markdown table cell: no markup, no HTML, no column breaks."""
    out = " ".join(str(text).split())
    for char in "\\`*_[]<>|#!":
        out = out.replace(char, "\\" + char)
    return out


def render_markdown(data: Insight, generated: datetime) -> str:
    """The same report as Markdown tables."""
    k = data.kpis
    lines = ["# Rapport insight report", "", f"{period_text(k.period)}. Generated "
             f"{generated:%Y-%m-%d %H:%M} UTC from the exchange log (customer text redacted).",
             "", "## All channels", "", "| KPI | value | detail |", "|---|---:|---|"]
    lines += [f"| {md(t.name)} | {md(t.value)} | {md(t.detail)} |" for t in tiles(k.total)]
    if k.by_channel:
        names = [t.name for t in tiles(k.total)]
        lines += ["", "## By channel", "", "| channel | " + " | ".join(names) + " |",
                  "|---|" + "---:|" * len(names)]
        lines += [f"| {md(channel_name(c.channel))} | "
                  + " | ".join(md(t.value) for t in tiles(c)) + " |" for c in k.by_channel]
    sections = [
        ("Conversations per day", ("day", "conversations", "customer messages"),
         [(d.day.isoformat(), d.conversations, d.customer_messages) for d in data.volume]),
        ("Top intents", ("intent", "messages"), [(i.label, i.count) for i in data.intents]),
        ("Complaints by product and issue", ("product", "issue", "conversations"),
         [(c.product, c.issue_type, c.count) for c in data.categories]),
        ("Voice of the customer", ("kind", "product", "messages"),
         [(t.kind, t.product, t.count) for t in data.themes]),
        ("Sentiment and CSAT per day", ("day", "first sentiment", "last sentiment", "CSAT",
                                        "ratings"),
         [(t.day.isoformat(), number(t.first_sentiment), number(t.last_sentiment),
           number(t.csat_average), t.csat_responses) for t in data.trends]),
    ]
    for heading, columns, rows in sections:
        lines += ["", f"## {heading}", ""]
        if not rows:
            lines.append("No data in this period.")
            continue
        lines += ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
        lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def read_insight(engine: Engine, period: Period) -> Insight:
    """The period's numbers from the hub database (a failure is StoreUnavailable)."""
    try:
        with engine.connect() as connection:
            return insight(connection, period)
    except SQLAlchemyError as error:
        raise StoreUnavailable(f"the exchange log could not be read "
                               f"({type(error).__name__})") from error


def write_report(data: Insight, out: Path, generated: datetime) -> tuple[Path, Path]:
    """Write report.html and report.md into `out` (made if missing); their paths."""
    html_path, md_path = out / "report.html", out / "report.md"
    try:
        out.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(data, generated), encoding="utf-8")
        md_path.write_text(render_markdown(data, generated), encoding="utf-8")
    except OSError as error:
        raise ReportNotWritten(f"cannot write the report into {out}: "
                               f"{error.strerror or error}") from error
    return html_path, md_path
