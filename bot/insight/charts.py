"""Charts as server-rendered SVG: no script, nothing loaded from elsewhere (the console's CSP).

Each chart is a `<figure>`: the SVG (`role="img"`, an `aria-label` and a `<title>`, and a
`<title>` on every bar and point) and the same numbers as a `<table>` (in a `<details>`), for
screen readers and for reading exact values. Labels come
from customer data (intents, products), so every piece of text and every attribute is
escaped; links are kept only when they are same-site paths. Colours are presentation
attributes, not inline styles, so a strict `style-src 'self'` policy does not strip them.
The markup is well-formed XML, so it works inline in HTML and in an `.svg` file alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from markupsafe import Markup, escape

WIDTH = 640
BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 190
LABEL_CHARS = 28
LINE_HEIGHT = 240
MARGIN = 40
PALETTE = ("#2f6fde", "#d9622b", "#2e9e6a", "#8a4fd0", "#c23c5a")
X_LABELS = 8  # at most this many x-axis labels on a line chart


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    link: Optional[str] = None  # a same-site path: the conversations behind the bar


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Optional[float]]  # one per x label; None where nothing was measured


def number(value: Optional[float]) -> str:
    """A value as charts and tables print it: whole numbers plain, others to two places."""
    if value is None:
        return "–"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


def _short(label: str, most: int = LABEL_CHARS) -> str:
    label = " ".join(str(label).split())
    return label if len(label) <= most else label[: most - 1] + "…"


def _html(template: str, *args: object, **kwargs: object) -> Markup:
    """`Markup(template).format(...)`, at a fraction of its cost (a 90-day chart formats
    thousands of fragments): text is escaped, Markup kept, numbers formatted as given."""
    def safe(value: object) -> object:
        return value if isinstance(value, (int, float)) else escape(value)

    return Markup(template.format(*map(safe, args),
                                  **{key: safe(value) for key, value in kwargs.items()}))


def _safe_link(link: Optional[str]) -> Optional[str]:
    """Only same-site paths: a label can never become a `javascript:` or off-site link."""
    if link and link.startswith("/") and not link.startswith("//") and "\\" not in link:
        return link
    return None


def _linked(item: Markup, link: Optional[str]) -> Markup:
    safe = _safe_link(link)
    return _html('<a href="{}">{}</a>', safe, item) if safe else item


def _empty(title: str) -> Markup:
    return _html('<figure class="chart"><figcaption>{}</figcaption>'
                  '<p class="chart-empty">No data in this period.</p></figure>', title)


def _table(title: str, headings: Sequence[str], rows: Sequence[Sequence[str]]) -> Markup:
    head = Markup("").join(_html('<th scope="col">{}</th>', h) for h in headings)
    body = Markup("").join(
        _html("<tr><th scope=\"row\">{}</th>{}</tr>",
            row[0], Markup("").join(_html("<td>{}</td>", cell) for cell in row[1:]))
        for row in rows)
    return _html('<details class="chart-data"><summary>The numbers</summary>'
                  '<table><caption>{}</caption><thead><tr>{}</tr></thead>'
                  '<tbody>{}</tbody></table></details>', title, head, body)


def bar_chart(title: str, bars: Sequence[Bar], unit: str = "") -> Markup:
    """Horizontal bars, biggest first as given; each bar links to its conversations."""
    if not bars:
        return _empty(title)
    top = max((bar.value for bar in bars), default=0) or 1
    plot = WIDTH - LABEL_WIDTH - 60
    height = len(bars) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    parts = []
    for index, bar in enumerate(bars):
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        width = max(1.0, plot * bar.value / top) if bar.value else 0.0
        shown = f"{number(bar.value)}{unit}"
        item = _html(
            '<g class="bar"><title>{label}: {shown}</title>'
            '<text x="{lx}" y="{ty}" text-anchor="end" class="label">{short}</text>'
            '<rect x="{x}" y="{y}" width="{w:.1f}" height="{h}" fill="{fill}"/>'
            '<text x="{vx:.1f}" y="{ty}" class="value">{shown}</text></g>',
            label=bar.label, shown=shown, short=_short(bar.label), lx=LABEL_WIDTH - 8,
            ty=y + BAR_HEIGHT - 6, x=LABEL_WIDTH, y=y, w=width, h=BAR_HEIGHT,
            fill=PALETTE[0], vx=LABEL_WIDTH + width + 6)
        parts.append(_linked(item, bar.link))
    svg = _html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{title}" '
        'viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" '
        'font-size="12"><title>{title}</title>{bars}</svg>',
        title=title, w=WIDTH, h=height, bars=Markup("").join(parts))
    rows = [(bar.label, f"{number(bar.value)}{unit}") for bar in bars]
    return _html('<figure class="chart"><figcaption>{}</figcaption>{}{}</figure>',
        title, svg, _table(title, ("", "value"), rows))


def _scale(series: Sequence[Series], low: Optional[float], high: Optional[float]
           ) -> tuple[float, float]:
    values = [v for s in series for v in s.values if v is not None]
    bottom = min(values) if low is None else low
    top = max(values) if high is None else high
    if top <= bottom:
        top = bottom + 1
    return bottom, top


def _path(points: Sequence[Optional[tuple[float, float]]]) -> str:
    """An SVG path through the points, broken where a value is missing."""
    commands, pen_down = [], False
    for point in points:
        if point is None:
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{point[0]:.1f},{point[1]:.1f}")
        pen_down = True
    return " ".join(commands)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series],
               low: Optional[float] = None, high: Optional[float] = None,
               links: Sequence[Optional[str]] = ()) -> Markup:
    """Lines over labelled points (days), one per series, with a legend and a y scale.

    `links`, one per label, make each point open what it counts.
    """
    if not labels or not any(v is not None for s in series for v in s.values):
        return _empty(title)
    bottom, top = _scale(series, low, high)
    left, right, plot_top = MARGIN + 10, WIDTH - MARGIN, 30
    plot_bottom = LINE_HEIGHT - MARGIN
    step = (right - left) / max(1, len(labels) - 1)

    def at(index: int, value: float) -> tuple[float, float]:
        x = left + index * step if len(labels) > 1 else (left + right) / 2
        return x, plot_bottom - (value - bottom) / (top - bottom) * (plot_bottom - plot_top)

    grid = []
    for tick in range(5):
        value = bottom + (top - bottom) * tick / 4
        y = at(0, value)[1]
        grid.append(_html('<line x1="{l}" x2="{r}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                           '<text x="{tx}" y="{ty:.1f}" text-anchor="end">{v}</text>',
            l=left, r=right, y=y, tx=left - 6, ty=y + 4, v=number(round(value, 2))))
    every = max(1, -(-len(labels) // X_LABELS))
    for index, label in enumerate(labels):
        if index % every == 0 or index == len(labels) - 1:
            grid.append(_html('<text x="{x:.1f}" y="{y}" text-anchor="middle">{t}</text>',
                         x=at(index, bottom)[0], y=plot_bottom + 16, t=_short(label, 12)))
    lines = []
    for number_of, line in enumerate(series):
        colour = PALETTE[number_of % len(PALETTE)]
        points = [None if v is None else at(i, v) for i, v in enumerate(line.values)]
        dots = Markup("").join(
            _linked(_html('<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{c}"><title>{n} {lab}: '
                           '{v}</title></circle>', x=p[0], y=p[1], c=colour, n=line.name,
                                                          lab=labels[i], v=number(line.values[i])),
                    links[i] if i < len(links) else None)
            for i, p in enumerate(points) if p is not None)
        legend_x = left + number_of * 150
        lines.append(_html(
            '<g class="series"><path d="{d}" fill="none" stroke="{c}" stroke-width="2"/>{dots}'
            '<rect x="{lx}" y="8" width="12" height="12" fill="{c}"/>'
            '<text x="{tx}" y="18">{name}</text></g>',
            d=_path(points), c=colour, dots=dots, lx=legend_x, tx=legend_x + 16,
            name=_short(line.name, 20)))
    svg = _html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{title}" '
        'viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" '
        'font-size="11"><title>{title}</title>{grid}{lines}</svg>',
        title=title, w=WIDTH, h=LINE_HEIGHT, grid=Markup("").join(grid),
        lines=Markup("").join(lines))
    rows = [(label, *[number(s.values[i]) for s in series]) for i, label in enumerate(labels)]
    table = _table(title, ("", *[s.name for s in series]), rows)
    return _html('<figure class="chart"><figcaption>{}</figcaption>{}{}</figure>',
        title, svg, table)

