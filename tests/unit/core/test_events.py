"""Event definitions: every type used is defined, and one ``define(...)`` is all a new type needs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from outbound.core import events as ev

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "outbound"
DERIVED = {"ALL", "CRM_TYPES", "WEIGHABLE", "REPORT_COLUMNS", "DEFINITIONS", "GROUPS"}
MARKER = "# ---------------------------------------------------------------- derived"


def _sources() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"), str(p))) for p in sorted(PACKAGE.rglob("*.py"))
            if "migrations" not in p.parts]


def test_every_event_type_used_in_the_package_is_defined() -> None:
    used: dict[str, set[str]] = {}
    for path, tree in _sources():
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ev":
                used.setdefault(node.attr, set()).add(where)
            elif isinstance(node, ast.ImportFrom) and node.module == "outbound.core.events":
                for alias in node.names:
                    used.setdefault(alias.name, set()).add(where)
            # a type written as a literal: Event(type="...") or {"type": "...", "dedupe_key": ...}
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Event"):
                for kw in node.keywords:
                    if kw.arg == "type" and isinstance(kw.value, ast.Constant):
                        assert kw.value.value in ev.DEFINITIONS, f"{where}: Event(type={kw.value.value!r}) is not defined"
            elif isinstance(node, ast.Dict):
                keys = {k.value: v for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant)}
                kind = keys.get("type")
                if isinstance(kind, ast.Constant) and ({"dedupe_key", "prospect_id", "send_id"} & set(keys)):
                    assert kind.value in ev.DEFINITIONS, f"{where}: event type {kind.value!r} is not defined"
    assert {"SENT", "BOUNCED", "COMPLAINED"} <= set(used), "the scan finds the uses"
    for name, where in sorted(used.items()):
        if name in DERIVED or name in {"EventType", "define", "catalogue", "Catalogue", "CATALOGUE", "custom_type",
                                               "with_custom"}:
            continue
        value = getattr(ev, name, None)
        assert isinstance(value, str) and value in ev.DEFINITIONS, f"ev.{name} (used in {sorted(where)}) is not a defined type"


def test_the_constants_are_the_definitions() -> None:
    constants = {v for k, v in vars(ev).items() if k.isupper() and not k.startswith("_") and isinstance(v, str)}
    assert constants == set(ev.DEFINITIONS) == set(ev.ALL)
    assert ev.SENT == "sent" and type(ev.SENT) is str, "plain str: used as is in SQL"
    for name, d in ev.DEFINITIONS.items():
        assert d.name == name and d.group in ev.GROUPS and d.doc and d.dedupe, name
        assert not (d.crm or d.report) or d.fields, f"{name}: a type others record says what its data holds"
    assert ev.ALL[0] == ev.SENT and len(set(ev.ALL)) == len(ev.ALL)
    assert ev.COMPLAINED in ev.CRM_TYPES and ev.SENT not in ev.CRM_TYPES
    assert ev.REPORT_COLUMNS[ev.COMPLAINED] == "complaint" and ev.SENT not in ev.REPORT_COLUMNS


def test_the_module_imports_nothing_of_outbound_outside_core() -> None:
    tree = ast.parse((PACKAGE / "core" / "events.py").read_text(encoding="utf-8"))
    modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    modules += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert [m for m in modules if m.startswith("outbound") and not m.startswith("outbound.core")] == []


def test_define_refuses_a_second_definition_and_an_unknown_group() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        ev.define(ev.SENT, "sending", dedupe="x", doc="again")
    with pytest.raises(ValueError, match="unknown group 'crm'"):
        ev.define("brand_new", "crm", dedupe="x", doc="wrong group")
    assert "brand_new" not in ev.DEFINITIONS


def test_the_lists_derive_from_a_copy_of_the_definitions() -> None:
    extra = ev.EventType("demo_signal", "outcome", ("by", "note"), "{by}:{email}:demo_signal:{at}",
                         crm=True, weighable=True, report="demo", doc="a test type")
    got = ev.catalogue({**ev.DEFINITIONS, extra.name: extra})
    assert got.all == (*ev.ALL, "demo_signal") and got.crm_types == (*ev.CRM_TYPES, "demo_signal")
    assert got.weighable == (*ev.WEIGHABLE, "demo_signal")
    assert got.report_columns == {**ev.REPORT_COLUMNS, "demo_signal": "demo"}
    quiet = ev.catalogue({**ev.DEFINITIONS, extra.name: replace(extra, crm=False, weighable=False, report=None)})
    assert "demo_signal" in quiet.all and "demo_signal" not in quiet.crm_types + quiet.weighable
    assert quiet.report_columns == ev.REPORT_COLUMNS


# Run in a fresh interpreter: events.py with one more define() before its derived lists, then every
# consumer imported as it is. What each consumer shows of the new type is printed as JSON.
_PROBE = r'''
import json, sys, tempfile, types
from datetime import UTC, datetime
from pathlib import Path

src_path, extra, marker = sys.argv[1:4]
src = Path(src_path).read_text(encoding="utf-8")
assert src.count(marker) == 1
mod = types.ModuleType("outbound.core.events")
mod.__file__ = src_path
sys.modules[mod.__name__] = mod
import outbound.core
exec(compile(src.replace(marker, extra + "\n\n" + marker), src_path, "exec"), mod.__dict__)
outbound.core.events = mod

from outbound.reports import html, queries
from outbound.scoring import outcomes_in
from outbound.scoring.decay import weight_of
from outbound.scoring.spec import SCORED_TYPES, check_scoring_file, load_scoring

out = {}
with tempfile.TemporaryDirectory() as tmp:
    root = Path(tmp)
    (root / "scoring.yaml").write_text("weights:\n  demo_signal: 7\nrules:\n  - name: r\n"
                                       "    when: {event: demo_signal}\n    hot: true\n")
    problems = check_scoring_file(root / "scoring.yaml")
    out["weight_problems"] = [p.message for p in problems]
    if not problems:
        out["weight"] = weight_of("demo_signal", {}, load_scoring(root).weights)
    (root / "typo.yaml").write_text("weights:\n  demo_signl: 7\n")
    out["typo"] = [p.message for p in check_scoring_file(root / "typo.yaml")]
out["scored"] = "demo_signal" in SCORED_TYPES
try:
    out["crm"] = outcomes_in.make_row({"email": "a@b.test", "type": "demo_signal"}, 1, datetime.now(UTC)).type
except ValueError as exc:
    out["crm"] = str(exc)
out["read"] = "demo_signal" in queries._TYPES
out["head"] = html.metrics_head("sequence")
t = datetime(2026, 12, 1, tzinfo=UTC)
facts = queries.tie([("sent", t, 1, 10, 100, {}), ("demo_signal", t, 1, None, None, {})],
                    [(100, 10, 1, "s", "intro", None, "m@x.test", t, t)], {1: "list"}, {"list": 1})
out["json"] = queries.grouped(facts, "sequence")["s"].as_json()
print(json.dumps(out))
'''
_DEFINE = ('DEMO_SIGNAL = define("demo_signal", "outcome", fields=_CRM, dedupe=_CRM_KEY, crm={crm}, '
           'weighable={weighable}, report={report!r}, doc="a type added for this test")')


def _probe(crm: bool, weighable: bool, report: str | None) -> dict[str, object]:
    extra = _DEFINE.format(crm=crm, weighable=weighable, report=report)
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(PACKAGE / "core" / "events.py"), extra, MARKER],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.splitlines()[-1]))


def test_one_definition_is_all_a_new_type_needs() -> None:
    got = _probe(crm=True, weighable=True, report="demo")
    assert got["weight_problems"] == [] and got["weight"] == 7, "scoring.yaml weighs it and a rule may name it"
    assert any("did you mean 'demo_signal'?" in m for m in got["typo"]), got["typo"]  # type: ignore[union-attr]
    assert got["scored"] is True and got["crm"] == "demo_signal" and got["read"] is True
    assert "demo %" in got["head"]  # type: ignore[operator]
    report = got["json"]
    assert isinstance(report, dict) and report["demo_signal"] == 1 and report["demo_rate"] == 1.0


def test_a_type_without_the_switches_stays_out_of_weights_import_and_report() -> None:
    got = _probe(crm=False, weighable=False, report=None)
    assert any("unknown key 'weights.demo_signal'" in m for m in got["weight_problems"]), got  # type: ignore[union-attr]
    assert got["scored"] is False and "is not one of" in str(got["crm"]) and got["read"] is False
    assert not any(h.startswith("demo") for h in got["head"])  # type: ignore[union-attr]
    report = got["json"]
    assert isinstance(report, dict) and "demo_signal" not in report
