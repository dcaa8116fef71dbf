"""One self-contained HTML page: tables and inline SVG charts, no scripts and no external assets."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime
from html import escape

from outbound.reports.queries import COLUMNS, Column, Facts, Metrics, SourceRow, VariantRow

# Categorical colours without red or green: those read as bad and good, and a mailbox is neither.
PALETTE = ("#2563eb", "#7c3aed", "#0891b2", "#d97706", "#db2777", "#4b5563", "#4338ca", "#92400e")
FUNNEL_COLOUR = "#2563eb"  # one hue for a funnel: its stages are one quantity shrinking, not categories
ALERT = "#dc2626"          # only for what is wrong: the bounce-rate pause threshold
FUNNEL = ("contacted", "delivered", "replied", "positive", "qualified")
CSS = """*{box-sizing:border-box}body{font-family:system-ui,sans-serif;margin:0;color:#111827;background:#fff}
main{max-width:1400px;margin:0 auto;padding:16px 24px}h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin-top:28px}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:8px 0;width:100%}
td,th{border:1px solid #d1d5db;padding:4px 8px;text-align:right;white-space:nowrap}th{background:#f3f4f6}
td:first-child,th:first-child{text-align:left}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:12px 0}
.kpi{border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;background:#f9fafb}
.kpi b{display:block;font-size:24px}.kpi span{color:#4b5563;font-size:13px}
svg.chart{display:block;width:100%;height:auto;margin:8px 0;background:#f9fafb;border:1px solid #e5e7eb}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,560px),1fr));gap:16px}
@media (max-width:600px){main{padding:8px}td,th{padding:3px 5px;font-size:13px}}"""


def funnel(facts: Facts) -> dict[str, dict[str, int]]:
    """Per sequence, prospects at each stage (a prospect counts once per stage)."""
    stages: dict[str, dict[str, set[int]]] = defaultdict(lambda: {s: set() for s in FUNNEL})
    for s in facts.attempted():
        st = stages[s.sequence]
        st["contacted"].add(s.prospect_id)
        if not s.bounced:
            st["delivered"].add(s.prospect_id)
            if s.replied:
                st["replied"].add(s.prospect_id)
            if s.positive:
                st["positive"].add(s.prospect_id)
        if s.prospect_id in facts.qualified:
            st["qualified"].add(s.prospect_id)
    return {seq: {k: len(v) for k, v in st.items()} for seq, st in sorted(stages.items())}


def daily_sends(facts: Facts) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in facts.attempted():
        if s.day:
            out[s.mailbox][s.day] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


def bounce_by_domain(facts: Facts) -> dict[str, dict[str, float]]:
    tally: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for s in facts.attempted():
        if s.day:
            cell = tally[s.mailbox.rsplit("@", 1)[-1]][s.day]
            cell[0] += s.bounced
            cell[1] += 1
    return {d: {day: b / n for day, (b, n) in sorted(days.items())} for d, days in sorted(tally.items())}


def _svg_open(chart_id: str, title: str, width: int, height: int) -> list[str]:
    """An SVG that scales to its container (viewBox, width 100 %) with its title."""
    return [f'<svg class="chart" id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
            f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>']


def nice_ceiling(peak: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``peak`` (an axis top)."""
    if peak <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(peak))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= peak * (1 - 1e-9)))


def date_ticks(days: list[str], most: int = 8) -> list[str]:
    """At most ``most`` evenly spaced days to label, the first and last included."""
    if len(days) <= most:
        return list(days)
    step = (len(days) - 1) / (most - 1)
    return [days[round(i * step)] for i in range(most)]


def _day_label(day: str) -> str:
    try:
        return datetime.strptime(day, "%Y-%m-%d").strftime("%b %d")
    except ValueError:
        return day


def bar_chart(chart_id: str, title: str, values: dict[str, int], width: int = 560) -> str:
    row, left, top = 26, 110, 30
    height = top + row * len(values) + 10
    peak = max(values.values(), default=0) or 1
    parts = _svg_open(chart_id, title, width, height)
    for i, (label, v) in enumerate(values.items()):
        y = top + i * row
        w = (width - left - 60) * v / peak
        parts.append(f'<text x="10" y="{y + 16}" font-size="12">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{FUNNEL_COLOUR}" '
                     f'fill-opacity="{1 - 0.12 * i:.2f}"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 16}" font-size="12">{v}</text>')
    parts.append("</svg>")
    return "".join(parts)


class _Axes:
    """The plot area of a time chart: y from 0 to a nice top with gridlines, days labelled on x."""

    def __init__(self, days: list[str], top_value: float, percent: bool, width: int, height: int,
                 legend: int) -> None:
        self.days, self.top_value, self.percent = days, top_value, percent
        self.left, self.right, self.top, self.bottom = 56, legend, 30, 40
        self.w, self.h = width - self.left - self.right, height - self.top - self.bottom
        self.height = height

    def x(self, day: str) -> float:
        n = len(self.days)
        return self.left + (self.w * (self.days.index(day) + 0.5) / n if n else self.w / 2)

    def y(self, value: float) -> float:
        return self.top + self.h - self.h * min(value, self.top_value) / self.top_value

    def draw(self) -> list[str]:
        parts = []
        for i in range(5):
            v = self.top_value * i / 4
            y = self.y(v)
            parts.append(f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.left + self.w}" y2="{y:.1f}" '
                         f'stroke="{"#6b7280" if i == 0 else "#e5e7eb"}"/>')
            parts.append(f'<text x="{self.left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                         f'{_fmt(v, self.percent)}</text>')
        for day in date_ticks(self.days):
            parts.append(f'<text x="{self.x(day):.1f}" y="{self.height - 14}" font-size="11" text-anchor="middle">'
                         f'{escape(_day_label(day))}</text>')
        return parts

    def legend(self, i: int, name: str, colour: str) -> list[str]:
        ly = self.top + 14 + i * 18
        return [f'<rect x="{self.left + self.w + 14}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>',
                f'<text x="{self.left + self.w + 30}" y="{ly}" font-size="11">{escape(name)}</text>']


def line_chart(chart_id: str, title: str, series: dict[str, dict[str, float]], *, percent: bool = False,
               width: int = 760, height: int = 300, threshold: float | None = None) -> str:
    """One line per series over the days; the y axis is scaled to the data (and the threshold, drawn
    in red), so a 2 % problem is not a flat line at the bottom of a 0-100 % axis."""
    days = sorted({d for points in series.values() for d in points})
    peak = max((v for points in series.values() for v in points.values()), default=0)
    axes = _Axes(days, nice_ceiling(max(peak, threshold * 1.5 if threshold else 0)), percent, width, height, 170)
    parts = _svg_open(chart_id, title, width, height) + axes.draw()
    if threshold is not None:
        y = axes.y(threshold)
        parts.append(f'<line x1="{axes.left}" y1="{y:.1f}" x2="{axes.left + axes.w}" y2="{y:.1f}" stroke="{ALERT}" '
                     f'stroke-dasharray="6 4"/><text x="{axes.left + axes.w - 4}" y="{y - 5:.1f}" font-size="11" '
                     f'fill="{ALERT}" text-anchor="end">pause at {_fmt(threshold, percent)}</text>')
    for i, (name, points) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{axes.x(d):.1f},{axes.y(points[d]):.1f}" for d in days if d in points)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for pair in coords.split():
            cx, cy = pair.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        parts += axes.legend(i, name, colour)
    parts.append("</svg>")
    return "".join(parts)


def stacked_bars(chart_id: str, title: str, series: dict[str, dict[str, int]], *, width: int = 760,
                 height: int = 300) -> str:
    """Per day, one bar of the series stacked: counts that add up, and no lines drawn over each other."""
    days = sorted({d for points in series.values() for d in points})
    totals = {d: sum(points.get(d, 0) for points in series.values()) for d in days}
    axes = _Axes(days, nice_ceiling(max(totals.values(), default=0)), False, width, height, 170)
    parts = _svg_open(chart_id, title, width, height) + axes.draw()
    bar = max(2.0, axes.w / max(len(days), 1) * 0.7)
    base = dict.fromkeys(days, 0)
    for i, (name, points) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        for d in days:
            n = points.get(d, 0)
            if n:
                y_top, y_bottom = axes.y(base[d] + n), axes.y(base[d])
                parts.append(f'<rect x="{axes.x(d) - bar / 2:.1f}" y="{y_top:.1f}" width="{bar:.1f}" '
                             f'height="{y_bottom - y_top:.1f}" fill="{colour}"><title>{escape(name)} '
                             f'{escape(d)}: {n}</title></rect>')
                base[d] += n
        parts += axes.legend(i, name, colour)
    parts.append("</svg>")
    return "".join(parts)


def _fmt(v: float | None, percent: bool = True) -> str:
    if v is None:
        return "-"
    return f"{v:.1%}" if percent else f"{v:g}"


def _table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><tr>{h}</tr>{body}</table></div>'


def total(groups: dict[str, Metrics]) -> Metrics:
    """All sends: every grouping partitions them, so the groups add up."""
    counts: Counter[str] = Counter()
    for m in groups.values():
        counts.update(m.counts)
    return Metrics(sum(m.sent for m in groups.values()), counts)


def headline(m: Metrics, extra: tuple[tuple[str, str, str], ...] = ()) -> str:
    """The figures a reader looks for first, above the tables; ``extra``: more (test id, label, value) cards."""
    cards = [("sent", "sent", str(m.sent)), ("delivered", "delivered", str(m.delivered)),
             *((c.rate_key, c.header, _fmt(m.rate_of(c))) for c in COLUMNS), *extra]
    return '<div class="kpis">' + "".join(
        f'<div class="kpi" data-testid="kpi-{escape(key.replace("_", "-"))}"><b>{escape(value)}</b>'
        f"<span>{escape(name)}</span></div>" for key, name, value in cards) + "</div>"


def metrics_head(by: str, cols: tuple[Column, ...] = COLUMNS) -> list[str]:
    return [by, "sent", "delivered", *(c.header for c in cols)]


def metrics_rows(groups: dict[str, Metrics], cols: tuple[Column, ...] = COLUMNS) -> list[list[str]]:
    """One row per group: the counts, then each outcome as "rate (count)"."""
    return [[name, str(m.sent), str(m.delivered), *(_outcome(m, c) for c in cols)] for name, m in groups.items()]


def _outcome(m: Metrics, c: Column) -> str:
    rate = m.rate_of(c)
    return "-" if rate is None else f"{rate:.1%} ({m.counts[c.key]})"


def reply_rate(m: Metrics) -> float | None:
    return m.rate(m.replied, m.delivered)


def render_page(facts: Facts, by: str, groups: dict[str, Metrics], source_rows: list[SourceRow],
                variant_rows: list[VariantRow], generated: datetime, bounce_pause: float | None = None) -> str:
    """The page; ``bounce_pause`` ([health] max_bounce_rate) is drawn as a line on the bounce chart."""
    sections = [f"<h1>outbound report</h1><p>generated {generated:%Y-%m-%d %H:%M}Z</p>",
                headline(total(groups)),
                f"<h2>By {escape(by)}</h2>",
                _table(metrics_head(by), metrics_rows(groups)),
                "<h2>Lead sources</h2>",
                _table(["source", "prospects", "contacted", "qualified", "qualified share", "cost per qualified",
                        "invalid share", "risky share"],
                       [[s.source, str(s.prospects), str(s.contacted), str(s.qualified), _fmt(s.qualified_share),
                         "-" if s.cost_per_qualified is None else f"{s.cost_per_qualified:.2f}",
                         _fmt(s.invalid_share), _fmt(s.risky_share)] for s in source_rows])]
    if variant_rows:
        sections += ["<h2>A/B variants (reply rate)</h2>", _table(
            ["step", "variant", "delivered", "reply %", "vs", "difference", "p-value"],
            [[v.step, v.variant, str(v.metrics.delivered), _fmt(reply_rate(v.metrics)), v.baseline,
              "-" if v.test is None else f"{v.test.difference * 100:+.1f} pts",
              "-" if v.test is None else f"{v.test.p_value:.3f}"] for v in variant_rows])]
    sections.append('<h2>Funnel per sequence</h2><div class="charts">')
    for i, (seq, stages) in enumerate(funnel(facts).items()):
        sections.append(bar_chart(f"funnel-{i}", f"Funnel: {seq}", stages))
    sections += ['</div><h2>Sends and bounces per day</h2><div class="charts">',
                 stacked_bars("daily-sends", "Sends per day (UTC), stacked by mailbox", daily_sends(facts)),
                 line_chart("bounce-rate", "Bounce rate per day per domain", bounce_by_domain(facts), percent=True,
                            threshold=bounce_pause), "</div>"]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>outbound report</title>'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<style>{CSS}</style></head><body><main>{''.join(sections)}</main></body></html>\n")
