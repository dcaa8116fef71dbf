"""Accounts (company domains worked as one): list, show with the buying committee's coverage, stop, resume."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from outbound.cli import runtime
from outbound.cli.context import console, fail
from outbound.cli.tables import show as show_table
from outbound.errors import OutboundError

accounts_app = typer.Typer(help="Accounts: a company domain's contacts worked as one.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(accounts_app, name="accounts")
    accounts_app.command("list")(list_cmd)
    accounts_app.command("show")(show_cmd)
    accounts_app.command("stop")(stop_cmd)
    accounts_app.command("resume")(resume_cmd)


def _scores() -> dict[str, float]:
    """Each account's score now (decayed with scoring.yaml's half-life)."""
    from outbound.scoring.apply import read_scores
    from outbound.scoring.spec import load_scoring

    cfg = runtime.config()
    try:
        half_life = load_scoring(cfg.root).half_life.total_seconds()
    except OutboundError as exc:
        fail(str(exc))
    now = datetime.now(UTC)
    return {d: s.at(now, half_life) for d, s in read_scores(runtime.open_engine(cfg), "account").items()}


def _state(reason: str | None) -> str:
    return "active" if reason is None else f"stopped: {reason}"


def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Every account: contacts, how many were mailed and replied, score and state."""
    from outbound.store.accounts import list_accounts

    rows = list_accounts(runtime.open_engine())
    scores = _scores()
    if as_json:
        print(json.dumps([{**asdict(r), "score": round(scores.get(r.domain, 0.0), 4)} for r in rows], indent=2))
        return
    if not rows:
        console.print("no accounts (prospects with a company_domain make them)", highlight=False)
        return
    table = Table(Column("domain", no_wrap=True), Column("contacts", justify="right", no_wrap=True),
                  Column("mailed", justify="right", no_wrap=True), Column("replied", justify="right", no_wrap=True),
                  Column("score", justify="right", no_wrap=True), Column("state"))
    for r in rows:
        table.add_row(r.domain, str(r.contacts), str(r.reached), str(r.replied), f"{scores.get(r.domain, 0.0):.1f}",
                      _state(r.stopped_reason))
    show_table(table)


def show_cmd(domain: Annotated[str, typer.Argument(help="the company domain")],
             as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """One account: its contacts with title, seniority and department, the coverage by both, score and state."""
    from outbound.store.accounts import account_detail

    detail = account_detail(runtime.open_engine(), domain)
    if detail is None:
        fail(f"no account {domain!r}: no prospect has that company_domain")
    score = _scores().get(detail.domain, 0.0)
    coverage = detail.coverage()
    if as_json:
        body: dict[str, Any] = {"domain": detail.domain, "state": "stopped" if detail.stopped_reason else "active",
                                "stopped_reason": detail.stopped_reason, "score": round(score, 4),
                                "coverage": coverage, "departments": detail.coverage("department"),
                                "contacts": [{**asdict(c), "enrollments": [{"sequence": q, "state": st}
                                                                           for q, st in c.enrollments]}
                                             for c in detail.contacts]}
        print(json.dumps(body, indent=2))
        return
    console.print(f"{detail.domain}: {_state(detail.stopped_reason)}, score {score:.1f}, "
                  f"{len(detail.contacts)} contact(s)", highlight=False, markup=False)
    table = Table(Column("email", no_wrap=True), Column("name"), Column("title"), Column("seniority", no_wrap=True),
                  Column("sequences"), Column("sent", justify="right", no_wrap=True), Column("engaged", no_wrap=True),
                  Column("replied", no_wrap=True))
    for c in detail.contacts:
        table.add_row(c.email, c.name, c.title or "", c.seniority,
                      ", ".join(f"{q} ({st})" for q, st in c.enrollments) or "—", str(c.sent),
                      "yes" if c.engaged else "no", "yes" if c.replied else "no")
    show_table(table)
    cover = Table(Column("seniority", no_wrap=True), *(Column(h, justify="right", no_wrap=True)
                                                       for h in ("contacts", "reached", "engaged", "replied")))
    for level, row in coverage.items():
        cover.add_row(level, *(str(row[k]) for k in ("contacts", "reached", "engaged", "replied")))
    console.print("coverage by seniority:", highlight=False)
    show_table(cover)
    depts = Table(Column("department", no_wrap=True), *(Column(h, justify="right", no_wrap=True)
                                                       for h in ("contacts", "reached", "engaged", "replied")))
    for name, row in detail.coverage("department").items():
        if row["contacts"]:
            depts.add_row(name, *(str(row[k]) for k in ("contacts", "reached", "engaged", "replied")))
    console.print("coverage by department:", highlight=False)
    show_table(depts)


def _change(domain: str, action: str, reason: str) -> None:
    from outbound.store.operator import change_account

    name = domain.strip().lower().lstrip("@")
    if "." not in name:
        fail(f"{domain!r} is not a domain")
    stopped = change_account(runtime.open_engine(), name, action, reason, datetime.now(UTC))
    if action == "stop":
        console.print(f"{name}: stopped, {stopped} live enrollment(s) stopped; no contact of it is mailed or "
                      "enrolled until `outbound accounts resume`", highlight=False, markup=False)
    else:
        console.print(f"{name}: resumed; its contacts may be enrolled again (stopped enrollments stay stopped)",
                      highlight=False, markup=False)


def stop_cmd(domain: Annotated[str, typer.Argument(help="the company domain")],
             reason: Annotated[str, typer.Option(help="why (kept with the account)")] = "manual") -> None:
    """Stop every contact of the account now; none is enrolled until it is resumed."""
    _change(domain, "stop", reason)


def resume_cmd(domain: Annotated[str, typer.Argument(help="the company domain")],
               reason: Annotated[str, typer.Option(help="why")] = "manual") -> None:
    """Lift the account's stop (a rule's or a hand's): its contacts may be enrolled again."""
    _change(domain, "resume", reason)
