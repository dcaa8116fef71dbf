"""Scoring of the classifier against the shared corpora; used by the corpus tests and the benchmark."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from outbound.inbox.classify import classify


@dataclass
class Score:
    total: int = 0
    right: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.right / self.total if self.total else 0.0

    def add(self, ok: bool, label: str) -> None:
        self.total += 1
        self.right += ok
        if not ok:
            self.misses.append(label)


def labelled_bounces(corpora: Path, folder: str) -> Iterator[tuple[Path, dict[str, object]]]:
    """(file, label row) for the rows that state an expectation, complaints excluded."""
    for line in (corpora / folder / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if folder == "bounces-flufl" and not row.get("in_expectation_table"):
            continue
        if row.get("kind") == "complaint":
            continue
        yield corpora / folder / str(row["file"]), row


def recipient_score(corpora: Path, folder: str) -> Score:
    score = Score()
    for path, row in labelled_bounces(corpora, folder):
        expected = {str(a).lower() for a in row["recipients"]}  # type: ignore[attr-defined]
        got = set(classify(path.read_bytes()).recipients)
        score.add(got == expected, path.name)
    return score


# sisimai's reason names -> ours (outbound.core.bounces keeps its vocabulary in snake_case).
SISIMAI_REASONS = {
    "userunknown": "user_unknown", "hostunknown": "host_unknown", "hasmoved": "has_moved", "notaccept": "not_accept",
    "mailboxfull": "mailbox_full", "suspend": "suspended", "authfailure": "auth_failure", "networkerror": "network_error",
    "spamdetected": "spam", "policyviolation": "policy", "securityerror": "security_error", "systemerror": "system_error",
    "requireptr": "require_ptr", "mailererror": "mailer_error", "notcompliantrfc": "not_compliant_rfc",
    "toomanyconn": "too_many_connections", "mesgtoobig": "message_too_big", "onhold": "on_hold",
    "norelaying": "no_relaying", "exceedlimit": "exceed_limit", "syntaxerror": "syntax_error", "virusdetected": "virus",
}


def reason_score(corpora: Path) -> Score:
    """The lead recipient's reason against sisimai's, on the rows labelled hard or soft."""
    score = Score()
    for path, row in labelled_bounces(corpora, "bounces"):
        if row["kind"] not in ("hard_bounce", "soft_bounce"):
            continue
        label = str(row["reason"])
        score.add(classify(path.read_bytes()).reason == SISIMAI_REASONS.get(label, label), path.name)
    return score


def failure_or_warning_score(corpora: Path) -> Score:
    """flufl.bounce's labels: a permanent failure must be a bounce, a delay warning a delivery report."""
    score = Score()
    for path, row in labelled_bounces(corpora, "bounces-flufl"):
        if row.get("kind") not in ("permanent_failure", "soft_bounce_warning"):
            continue
        kind = classify(path.read_bytes()).kind
        ok = kind in ("hard_bounce", "soft_bounce") if row["kind"] == "permanent_failure" else kind == "delivery_report"
        score.add(ok, path.name)
    return score


def hard_soft_score(corpora: Path) -> tuple[Score, Score]:
    """(hard-versus-not-hard agreement, exact kind agreement) on rows labelled hard or soft.

    Delay notices are delivery_report by our contract; sisimai labels them soft. The first
    figure asks the question that matters (must the address be suppressed?), the second is strict.
    """
    hard_soft, exact = Score(), Score()
    for path, row in labelled_bounces(corpora, "bounces"):
        if row["kind"] not in ("hard_bounce", "soft_bounce"):
            continue
        kind = classify(path.read_bytes()).kind
        hard_soft.add((kind == "hard_bounce") == (row["kind"] == "hard_bounce") and kind != "other", path.name)
        exact.add(kind == row["kind"], path.name)
    return hard_soft, exact


_SHORT = {"do_not_contact": "dnc", "information_request": "info", "interested": "int", "left_company": "left",
          "meeting_request": "meet", "not_interested": "no", "out_of_office": "ooo", "wrong_person": "wrong"}


@dataclass
class IntentScore:
    """The intent classifier against ``reply-intent``: confusion matrix, per class and per language."""

    confusion: dict[tuple[str, str], int] = field(default_factory=dict)   # (label, predicted) -> count
    languages: dict[str, Score] = field(default_factory=dict)
    overall: Score = field(default_factory=Score)
    referrals: Score = field(default_factory=Score)
    follow_ups: Score = field(default_factory=Score)

    def recall(self, label: str) -> float:
        total = sum(n for (want, _), n in self.confusion.items() if want == label)
        return self.confusion.get((label, label), 0) / total if total else 0.0

    def table(self) -> str:
        """The confusion matrix as markdown (rows: label, columns: predicted)."""
        labels = sorted({want for want, _ in self.confusion} | {got for _, got in self.confusion})
        short = [_SHORT.get(name, name) for name in labels]
        lines = ["| label \\ predicted | " + " | ".join(short) + " | recall |",
                 "|---|" + "---|" * (len(labels) + 1)]
        for want in labels:
            cells = [str(self.confusion.get((want, got), 0) or "·") for got in labels]
            lines.append(f"| {want} | " + " | ".join(cells) + f" | {self.recall(want):.0%} |")
        return "\n".join(lines)


def intent_score(corpora: Path) -> IntentScore:
    score = IntentScore()
    folder = corpora / "reply-intent"
    for line in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        result = classify((folder / str(row["file"])).read_bytes())
        want, got = str(row["intent"]), str(result.intent)
        score.confusion[(want, got)] = score.confusion.get((want, got), 0) + 1
        score.overall.add(want == got, f"{row['file']}:{want}->{got}")
        score.languages.setdefault(str(row["language"]), Score()).add(want == got, str(row["file"]))
        if row.get("referral"):
            referral = result.referral or {}
            score.referrals.add(referral.get("email") == row["referral"]["email"], str(row["file"]))
        if row.get("follow_up_on"):
            got_date = result.follow_up_on.isoformat() if result.follow_up_on else None
            score.follow_ups.add(got_date == row["follow_up_on"], f"{row['file']}:{got_date}")
    return score


if __name__ == "__main__":  # python -m tests.unit.inbox.corpus_scoring: the figures for the README
    from tests.fixtures.common import corpora_dir

    result = intent_score(corpora_dir())
    print(f"overall {result.overall.right}/{result.overall.total} = {result.overall.rate:.1%}")
    print(", ".join(f"{lang} {s.right}/{s.total}" for lang, s in sorted(result.languages.items())))
    print(f"referral address {result.referrals.right}/{result.referrals.total}; "
          f"follow-up date {result.follow_ups.right}/{result.follow_ups.total}")
    print(result.table())
    print("misses:", result.overall.misses, result.referrals.misses, result.follow_ups.misses)
