"""Findings and reports: what every check returns, and the verdict rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]
CheckName = Literal["dns", "mx", "spf", "dkim", "dmarc", "ptr", "dnsbl", "mta_sts", "tls_rpt", "bimi", "provider"]
Verdict = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Finding:
    """One observation. `fix` is a one-line remedy shown to humans (empty when nothing is to be done)."""

    check: CheckName
    severity: Severity
    code: str
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "severity": self.severity, "code": self.code, "message": self.message,
                "fix": self.fix}


@dataclass
class HealthReport:
    domain: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.findings)

    def to_json(self) -> dict[str, object]:
        return {"domain": self.domain, "verdict": self.verdict, "findings": [f.to_json() for f in self.findings]}

    def codes(self, severity: Severity | None = None) -> set[str]:
        return {f.code for f in self.findings if severity is None or f.severity == severity}


def verdict_of(findings: list[Finding]) -> Verdict:
    severities = {f.severity for f in findings}
    if "error" in severities:
        return "fail"
    return "warn" if "warning" in severities else "pass"


def exit_code(reports: list[HealthReport]) -> int:
    """CLI contract: 0 all pass, 1 warnings only, 2 any error."""
    verdicts = {r.verdict for r in reports}
    return 2 if "fail" in verdicts else 1 if "warn" in verdicts else 0
