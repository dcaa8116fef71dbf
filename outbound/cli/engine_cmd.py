"""Engine commands: demo, send --once, run, status, preview, mailboxes resume."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Column, Table

from outbound.cli import runtime
from outbound.cli.context import console, err_console, fail
from outbound.cli.tables import show
from outbound.engine.status import MailboxStatus
from outbound.errors import ConfigError, OutboundError
from outbound.render.message import RenderedMessage
from outbound.store.db import utcnow
from outbound.store.operator import resume_senders
from outbound.store.prospects import get_prospect, to_data

if TYPE_CHECKING:
    from outbound.engine.context import EngineContext
    from outbound.engine.smtp import SmtpPool

NOW_HELP = "pretend it is this time (ISO 8601, e.g. 2026-12-01T09:30:00Z) for simulations and tests"
mailboxes_app = typer.Typer(help="Sending mailboxes.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("send")(send)
    app.command("run")(run)
    app.command("status")(status)
    app.command("preview")(preview)
    app.add_typer(mailboxes_app, name="mailboxes")


def _now(text: str | None) -> datetime:
    if text is None:
        return utcnow()
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--now {text!r} is not an ISO 8601 time such as 2026-12-01T09:30:00Z")
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def demo(
    days: Annotated[int, typer.Option(help="simulated days")] = 10,
    prospects: Annotated[int, typer.Option(help="generated prospects")] = 80,
) -> None:
    """Run the example sequences against a built-in local SMTP sink in simulated time (nothing leaves the machine)."""
    from outbound.app.demo import run_demo

    ws = runtime.workspace()
    console.print(f"[bold]outbound demo[/]: {len(ws.sequences)} sequences, {len(ws.domains)} domains, "
                  f"{len(ws.mailboxes())} mailboxes, {prospects} generated prospects, {days} simulated days; "
                  "SMTP goes to a local sink, the database is a temporary SQLite file.", highlight=False,
                  soft_wrap=False)
    with Progress(TextColumn("simulating"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), console=console,
                  transient=True) as bar:
        task = bar.add_task("sim", total=1.0)
        result = asyncio.run(run_demo(ws, days=days, prospects=prospects,
                                      progress=lambda f: bar.update(task, completed=f)))
    first = Table(title="First sends: which mailbox sent which step to whom, and when")
    for name in ("UTC", "prospect's time", "from", "to"):
        first.add_column(name, no_wrap=True)
    first.add_column("subject")
    for m in result.sent[:12]:
        zone = result.zones.get(m.to) or "America/New_York"
        first.add_row(m.at.strftime("%a %H:%M"), m.at.astimezone(ZoneInfo(zone)).strftime("%a %H:%M ") +
                      zone.rsplit("/", 1)[-1], m.mailbox, m.to, escape(m.subject))
    show(first)
    per_day = result.per_mailbox_day()
    days_seen = sorted({d for _, d in per_day})
    daily = Table(*[Column(h, no_wrap=True) for h in ("mailbox", *[d[5:] for d in days_seen], "total")],
                  title="Sends per mailbox per day (UTC): warm-up ramps, caps hold")
    for address in sorted({a for a, _ in per_day}):
        counts = [per_day.get((address, d), 0) for d in days_seen]
        daily.add_row(address, *[str(c) if c else "." for c in counts], str(sum(counts)))
    show(daily)
    st = result.status
    if st is not None:
        summary = Table("", Column("count", no_wrap=True), title="Summary")
        summary.add_row("prospects", str(result.prospects))
        summary.add_row("emails delivered to the sink", str(len(result.sent)))
        for state, n in sorted(st.enrollments.items()):
            summary.add_row(f"enrollments {state}", str(n))
        for row in st.stuck:
            summary.add_row(escape(f"  {row.state}: {row.reason}"), str(row.count))
        show(summary)


def send(
    once: Annotated[bool, typer.Option("--once", help="run one tick and exit")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would go out, send nothing")] = False,
    now: Annotated[str | None, typer.Option(help=NOW_HELP)] = None,
) -> None:
    """Run one send tick: plan due steps, claim within caps, send, record.

    Exits 0 when the tick went through, 1 when sends failed or mailboxes were paused in it, 2 on a
    configuration error (nothing sent)."""
    from outbound.engine.smtp import SmtpPool
    from outbound.engine.tick import TickReport, run_tick

    if not once:
        fail("use `outbound send --once` for one tick, or `outbound run` for the daemon", code=2)
    ctx = runtime.context(runtime.workspace(code=2), code=2)
    at = _now(now)

    async def tick() -> TickReport:
        pool = SmtpPool()
        try:
            report = await run_tick(ctx, pool, at, dry_run=dry_run)
        finally:
            await pool.close_all()
        table = Table(*[Column(h, no_wrap=True) for h in ("step", "from", "to")], "result",
                      title=f"{'dry run' if dry_run else 'tick'} at {at:%Y-%m-%d %H:%M}Z")
        results = {r.claim.send_id: r for r in report.results}
        for c in report.claimed:
            r = results.get(c.send_id)
            outcome = "" if r is None else (r.status + (f": {r.detail}" if r.detail else ""))
            if dry_run:
                outcome = _would(ctx, c.mailbox, pool)
            table.add_row(f"{c.sequence_name} #{c.step_index + 1}", c.mailbox, c.prospect.email, escape(outcome or "yes"))
        show(table)
        console.print(f"claimed {len(report.claimed)}, planned for later {report.planned}, "
                      f"requeued {report.requeued}, unconfirmed {report.unknown}", highlight=False)
        for reason, n in sorted(report.waiting.items(), key=lambda kv: -kv[1]):
            console.print(f"  waiting ({n}): {reason}", highlight=False, markup=False)
        return report

    try:
        report = asyncio.run(tick())
    except ConfigError as exc:  # e.g. a setting only the tick reads
        fail(str(exc), code=2)
    failed, paused = report.failed, report.paused
    for line in paused:
        err_console.print(f"paused this tick: {line}", highlight=False, markup=False)
    if failed or paused:
        err_console.print(f"{len(failed)} send(s) did not go out, {len(paused)} mailbox(es) paused", highlight=False)
        raise typer.Exit(1)


def _would(ctx: EngineContext, address: str, pool: SmtpPool) -> str:
    """A dry run's answer for one claim: the real tick would pause a mailbox whose password is not set."""
    from outbound.engine.secrets import missing_passwords, missing_reason

    found = ctx.mailbox(address)
    missing = missing_passwords(*found, pool.secrets) if found is not None else ()
    return f"would not send: {missing_reason(missing)}" if missing else "would send"


def run(
    log_json: Annotated[bool, typer.Option("--log-json", help="structured JSON log lines")] = False,
) -> None:
    """Run the daemon: sends due steps on schedule until SIGTERM or Ctrl-C (in-flight sends finish)."""
    from outbound.app.daemon import build_daemon

    _configure_logging(log_json)
    ctx = runtime.context(runtime.workspace())
    try:
        daemon = build_daemon(ctx)
    except OutboundError as exc:
        fail(str(exc))
    asyncio.run(daemon.run())


def _configure_logging(as_json: bool) -> None:
    from outbound.cli.logs import configure

    configure(as_json)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    now: Annotated[str | None, typer.Option(help=NOW_HELP)] = None,
) -> None:
    """Per mailbox: sent today against today's cap, next send, pauses; queued steps; blocked enrollments and why."""
    from outbound.engine.status import engine_status

    ws = runtime.workspace()
    engine = runtime.open_engine(ws.config)
    st = engine_status(engine, ws, _now(now))
    if as_json:
        print(json.dumps(st.as_json(), indent=2))
        return
    boxes = Table(*[Column(h, no_wrap=True) for h in ("mailbox", "state", "sent today", "cap today", "warm-up day")],
                  "next send", "reason", title="Mailboxes")
    for m in st.mailboxes:
        boxes.add_row(m.address + ("" if m.in_workspace else " (not in domains/)"), m.state, str(m.sent_today),
                      str(m.cap_today), str(m.warmup_day), _next_send(m), escape(m.pause_reason or ""))
    show(boxes)
    for m in st.mailboxes:  # the OAuth2 providers' own per-mailbox limits, kept by the engine
        if m.provider_limits:
            console.print(f"{m.address}: {m.provider_limits}", highlight=False, markup=False)
    queue = Table(*[Column(h, no_wrap=True) for h in ("sequence", "step", "due now", "scheduled later")],
                  title="Queued steps")
    for q in st.queue:
        queue.add_row(q.sequence, q.step, str(q.due_now), str(q.scheduled))
    show(queue)
    if st.stuck:
        stuck = Table(Column("state", no_wrap=True), Column("count", no_wrap=True), "reason",
                      title="Blocked and paused enrollments")
        for s in st.stuck:
            stuck.add_row(s.state, str(s.count), escape(s.reason))
        show(stuck)
    console.print("enrollments: " + ", ".join(f"{k} {v}" for k, v in sorted(st.enrollments.items())) +
                  "; sends: " + ", ".join(f"{k} {v}" for k, v in sorted(st.sends.items())), highlight=False)


def _next_send(m: MailboxStatus) -> str:
    """"now" only when the mailbox may really send now: its gap is over and a window it sends in is open."""
    if m.window_open is False:
        when = f"{m.next_opening:%a %Y-%m-%d %H:%MZ}" if m.next_opening else "never (see `outbound validate`)"
        return f"window closed, next opening {when}"
    return m.next_send_at.strftime("%H:%M:%SZ") if m.next_send_at else "now"


def preview(
    sequence: Annotated[str, typer.Argument(help="sequence name")],
    prospect: Annotated[str, typer.Option("--prospect", help="the prospect's email address")],
    step: Annotated[str | None, typer.Option(help="only this step id")] = None,
    now: Annotated[str | None, typer.Option(help=NOW_HELP)] = None,
    raw: Annotated[bool, typer.Option("--raw", help="the message as it goes on the wire (MIME, encoded headers)")] = False,
) -> None:
    """Each step as one prospect would read it: subject, variant, when it would go, the body (--raw: the wire form)."""
    from outbound.engine.preview import preview as render_preview

    # the links are signed as they would be sent, so the signing secret is needed here too
    ctx = runtime.context(runtime.workspace(), rng=random.Random(0))
    row = get_prospect(ctx.engine, prospect)
    if row is None:
        fail(f"no prospect {prospect}; import it first (`outbound prospects import FILE`)")
    try:
        steps = render_preview(ctx, sequence, to_data(row), _now(now), step_id=step)
    except OutboundError as exc:
        fail(str(exc))
    failed = False
    for s in steps:
        console.rule(f"step {s.step_id}")
        if s.error:
            failed = True
            err_console.print(f"[red]cannot send this step:[/] {escape(s.error)}", highlight=False)
        elif raw:
            assert s.message is not None
            console.print(s.message.decode("utf-8", "replace"), markup=False, highlight=False)
        else:
            assert s.rendered is not None
            console.print(_decoded(s.rendered, s.scheduled), markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _decoded(msg: RenderedMessage, scheduled: str | None) -> str:
    """The step as the prospect reads it: decoded headers that matter, then the plain-text body."""
    lines = [f"From: {msg.headers['From']}", f"To: {msg.headers['To']}", f"Subject: {msg.subject}",
             f"Variant: {msg.variant_id or '(none)'}", f"Scheduled: {scheduled or 'now'}"]
    if "List-Unsubscribe" in msg.headers:
        one_click = " (one-click)" if "List-Unsubscribe-Post" in msg.headers else ""
        lines.append(f"Unsubscribe: {msg.headers['List-Unsubscribe']}{one_click}")
    if msg.html is not None:
        lines.append("HTML part: sent too (see --raw)")
    return "\n".join(lines) + "\n\n" + msg.text.rstrip("\n") + "\n"


@mailboxes_app.command("resume")
def mailboxes_resume(target: Annotated[str, typer.Argument(help="ADDRESS or @DOMAIN")]) -> None:
    """Resume a paused mailbox, or every paused mailbox of a domain."""
    resumed = resume_senders(runtime.open_engine(), target, utcnow())
    if not resumed:
        fail(f"no paused mailbox matches {target}")
    console.print("resumed: " + ", ".join(resumed), highlight=False)
