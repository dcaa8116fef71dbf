"""One self-contained HTML page: tables and inline SVG charts, no scripts and no external assets."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from html import escape

from outbound.reports.queries import COLUMNS, Column, Facts, Metrics, SourceRow, VariantRow

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
FUNNEL = ("contacted", "delivered", "replied", "positive", "qualified")
_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#111827;background:#fff}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #d1d5db;padding:4px 8px;text-align:right}th{background:#f3f4f6}td:first-child{text-align:left}
svg.chart{display:block;margin:8px 0;background:#f9fafb;border:1px solid #e5e7eb}"""


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


def bar_chart(chart_id: str, title: str, values: dict[str, int], width: int = 560) -> str:
    row, left, top = 26, 110, 30
    height = top + row * len(values) + 10
    peak = max(values.values(), default=0) or 1
    parts = [f'<svg class="chart" id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img" aria-label="{escape(title)}">',
             f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>']
    for i, (label, v) in enumerate(values.items()):
        y = top + i * row
        w = (width - left - 60) * v / peak
        parts.append(f'<text x="10" y="{y + 16}" font-size="12">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 16}" font-size="12">{v}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(chart_id: str, title: str, series: dict[str, dict[str, float]], *, percent: bool = False,
               width: int = 760, height: int = 300) -> str:
    days = sorted({d for points in series.values() for d in points})
    left, right, top, bottom = 56, 170, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for points in series.values() for v in points.values()), default=0) or 1
    parts = [f'<svg class="chart" id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img" aria-label="{escape(title)}">',
             f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#6b7280"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#6b7280"/>',
             f'<text x="{left - 6}" y="{top + 10}" font-size="11" text-anchor="end">{_fmt(peak, percent)}</text>',
             f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>']

    def x(day: str) -> float:
        return left + (plot_w * days.index(day) / (len(days) - 1) if len(days) > 1 else plot_w / 2)

    if days:
        parts.append(f'<text x="{left}" y="{height - 12}" font-size="11">{escape(days[0])}</text>')
        parts.append(f'<text x="{left + plot_w}" y="{height - 12}" font-size="11" text-anchor="end">{escape(days[-1])}</text>')
    for i, (name, points) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{x(d):.1f},{top + plot_h - plot_h * points[d] / peak:.1f}" for d in days if d in points)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for pair in coords.split():
            cx, cy = pair.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        ly = top + 14 + i * 18
        parts.append(f'<rect x="{left + plot_w + 14}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot_w + 30}" y="{ly}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fmt(v: float | None, percent: bool = True) -> str:
    if v is None:
        return "-"
    return f"{v:.1%}" if percent else f"{v:g}"


def _table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


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
                variant_rows: list[VariantRow], generated: datetime) -> str:
    sections = [f"<h1>outbound report</h1><p>generated {generated:%Y-%m-%d %H:%M}Z</p>",
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
    sections.append("<h2>Funnel per sequence</h2>")
    for i, (seq, stages) in enumerate(funnel(facts).items()):
        sections.append(bar_chart(f"funnel-{i}", f"Funnel: {seq}", stages))
    sends = {m: {d: float(n) for d, n in days.items()} for m, days in daily_sends(facts).items()}
    sections += ["<h2>Daily sends per mailbox</h2>", line_chart("daily-sends", "Sends per day (UTC) per mailbox", sends),
                 "<h2>Bounce rate per sending domain</h2>",
                 line_chart("bounce-rate", "Bounce rate per day per domain", bounce_by_domain(facts), percent=True)]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>outbound report</title>'
            f"<style>{_CSS}</style></head><body>{''.join(sections)}</body></html>\n")
