"""`outbound init / validate / schema`, config selection and the database URL override, as subprocesses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import partial
from pathlib import Path

from outbound.scoring.spec import load_scoring
from tests.acceptance.conftest import Cli, copy_workspace, init_workspace, parallel, write_csv
from tests.fixtures.common import DATA, ROOT

PROBLEM = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")

# (file, line, text the message must contain): one per defect planted in tests/data/workspaces/broken.
BROKEN = [
    ("domains/bad-indent.yaml", 4, "YAML syntax"),
    ("domains/unknown-key.yaml", 5, "unknown key 'mailboxes[0].daily_capp'; did you mean 'daily_cap'?"),
    ("domains/unknown-key.yaml", 6, "unknown key 'mailboxes[0].smtp.password'; did you mean 'password_env'?"),
    ("sequences/bad-wait.yaml", 8, "cannot read 'three days' as a duration"),
    ("sequences/missing-file.yaml", 2, "no sending domain 'nowhere.example'"),
    ("sequences/missing-file.yaml", 7, "template file 'missing-file/nope.txt.j2' not found"),
    ("sequences/undefined-var.yaml", 7, "undefined variable compnay"),
]


def _broken_copy(tmp_path: Path) -> Path:
    target = tmp_path / "broken"
    shutil.copytree(DATA / "workspaces" / "broken", target)
    return target / "config.toml"


def _problems(text: str, root: Path) -> list[tuple[str, int, int, str]]:
    out = []
    for line in text.splitlines():
        m = PROBLEM.match(line)
        if m:
            rel = Path(m["path"]).resolve().relative_to(root.resolve()).as_posix()
            out.append((rel, int(m["line"]), int(m["col"]), m["message"]))
    return out


def test_init_creates_a_valid_workspace(tmp_path: Path) -> None:
    config = init_workspace(tmp_path / "new")
    root = config.parent
    assert {p.name for p in root.iterdir()} >= {"config.toml", "sequences", "domains", "schemas"}
    assert sorted(p.name for p in (root / "sequences").glob("*.yaml")) == ["agencies-reengage.yaml", "founders-q3.yaml"]
    result = Cli(config=config)("validate").ok()
    assert "2 sequence(s), 2 domain(s)" in result.out and result.out.rstrip().endswith("ok")
    assert result.err == ""
    # A second init refuses to overwrite and changes nothing.
    before = (root / "config.toml").read_text()
    again = Cli(cwd=tmp_path)("init", str(root), config=False).failed()
    assert "already has" in again.err and "config.toml" in again.err
    assert (root / "config.toml").read_text() == before


def test_init_starts_with_no_live_rules_or_webhooks_and_keeps_the_database_out_of_git(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "new").parent
    spec = load_scoring(root)
    assert spec.rules == [] and spec.webhooks == {}, "a new workspace must not stop, pause or post by itself"
    scoring = (root / "scoring.yaml").read_text()
    assert "#  - name: cool-off-low-scorers" in scoring and "#    url: https://hooks.example.com" in scoring
    assert subprocess.run(["git", "init", "-q", str(root)], check=False).returncode == 0
    (root / "outbound.db").write_text("")
    (root / "outbound.db-journal").write_text("")
    (root / "leads.csv.errors.csv").write_text("")
    ignored = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--ignored"],
                             capture_output=True, text=True, check=True).stdout
    assert {"!! outbound.db", "!! outbound.db-journal", "!! leads.csv.errors.csv"} <= set(ignored.splitlines()), ignored
    assert "?? config.toml" in ignored.splitlines()
    # a folder that already has a .gitignore keeps it and gains only what it lacks
    other = tmp_path / "repo"
    other.mkdir()
    (other / ".gitignore").write_text("node_modules/\n/outbound.db")
    init_workspace(other)
    lines = (other / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", "/outbound.db"] and lines.count("/outbound.db") == 1
    assert "/outbound.db-*" in lines


def test_init_into_a_file_is_a_clear_error_and_the_shipped_workspace_validates(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    into_file, shipped = parallel(partial(Cli(cwd=tmp_path), "init", "afile", config=False),
                                  partial(Cli(cwd=ROOT), "validate", config=False))
    assert "not a folder" in into_file.failed().err
    assert shipped.ok().out.rstrip().endswith("ok")


def test_broken_workspace_names_every_problem_with_file_and_line(tmp_path: Path) -> None:
    config = _broken_copy(tmp_path)
    cli = Cli(config=config)
    result, enroll = cli.many(("validate",), ("enroll", "undefined-var", "--source", "x"))
    found = _problems(result.failed().err, config.parent)
    for file, line, text in BROKEN:
        assert any(f == file and ln == line and text in msg for f, ln, _, msg in found), (file, line, text, result.err)
    assert all(col >= 1 for _, _, col, _ in found)
    assert len(found) == len(BROKEN), result.err
    assert f"{len(BROKEN)} error(s)" in result.err
    assert "hunter2" not in result.text  # a password typed into a domain file is never echoed
    # Commands that need the workspace refuse a broken one, pointing at `outbound validate`.
    assert "outbound validate" in enroll.failed().err and "bad-wait.yaml:8" in enroll.err


def test_config_env_and_option(tmp_path: Path, initialised: Path) -> None:
    broken = _broken_copy(tmp_path)
    good = copy_workspace(initialised, tmp_path / "good")
    env_broken = Cli(cwd=tmp_path, env={"OUTBOUND_CONFIG": str(broken)})
    results = parallel(
        partial(env_broken, "validate", config=False),   # OUTBOUND_CONFIG picks the workspace...
        partial(env_broken, "validate", config=good),    # ...and --config wins over it
        partial(Cli(cwd=good.parent), "validate", config=False),  # neither: ./config.toml
        partial(Cli(cwd=tmp_path), "validate", config=tmp_path / "nope.toml"),
    )
    assert [r.code for r in results] == [1, 0, 0, 1], [r.text for r in results]
    assert "bad-wait.yaml:8:" in results[0].err and "Traceback" not in results[0].text
    assert all(r.out.rstrip().endswith("ok") for r in results[1:3])
    assert "nope.toml" in results[3].failed().err and "not found" in results[3].err


def test_bad_config_file_is_a_clear_error(tmp_path: Path, initialised: Path) -> None:
    configs = [copy_workspace(initialised, tmp_path / f"ws{i}") for i in range(2)]
    configs[0].write_text(configs[0].read_text().replace('send_interval = "30s"', 'send_intervall = "30s"'))
    configs[1].write_text("[daemon\n")
    unknown, syntax = parallel(partial(Cli(config=configs[0]), "validate"),
                               partial(Cli(config=configs[1]), "suppress", "list"))
    assert "daemon.send_intervall" in unknown.failed().err and "unknown setting" in unknown.err
    assert str(configs[1]) in syntax.failed().err


def test_schema_output(tmp_path: Path, initialised: Path) -> None:
    cli = Cli(cwd=tmp_path)
    seq, written, bad = cli.many(("schema", "sequence"), ("schema", "--out", str(tmp_path / "out")),
                                 ("schema", "campaign"))
    sequence = json.loads(seq.ok().out)
    written.ok()
    domain = json.loads((tmp_path / "out" / "domain.schema.json").read_text())
    assert sequence["$schema"].startswith("https://json-schema.org/")
    assert {"name", "senders", "steps"} <= set(sequence["properties"]) and "steps" in sequence["required"]
    assert {"domain", "mailboxes"} <= set(domain["properties"])
    assert sequence["additionalProperties"] is False  # unknown keys are flagged in editors too
    assert json.loads((tmp_path / "out" / "sequence.schema.json").read_text()) == sequence
    # What `outbound init` wrote is the same schema.
    assert json.loads((initialised / "schemas" / "sequence.schema.json").read_text()) == sequence
    assert "unknown kind 'campaign'" in bad.failed().err


def test_unusable_database_url_is_a_clear_error(workspace: Cli) -> None:
    urls = ("postgresql+psycopg://outbound:hunter2secret@127.0.0.1:1/outbound",  # nothing listens on port 1
            "postgresql+psycopg://outbound:hunter2secret@127.0.0.1:notaport/outbound")
    results = parallel(*(partial(workspace, "suppress", "list", env={"OUTBOUND_DATABASE_URL": url}) for url in urls))
    for result in results:
        assert "database" in result.failed().err.lower(), result.err
        assert "hunter2secret" not in result.text


def test_database_url_env_points_to_postgresql(workspace: Cli, tmp_path: Path, postgres_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    cli = Cli(config=workspace.config, cwd=tmp_path, env={"OUTBOUND_DATABASE_URL": postgres_url})
    csv = write_csv(tmp_path / "people.csv", "email,first_name,company,pain_point", [
        "ann@acme.com,Ann,Acme,churn", "bob@blocked.example,Bob,Blocked,x", "cy@beta.io,Cy,Beta,", "not-an-address,X,Y,"])
    cli("suppress", "@blocked.example", "--reason", "competitor").ok()
    imported = cli("prospects", "import", str(csv), "--source", "pg-list", "--enroll", "founders-q3").ok()
    assert "imported 3 new" in imported.out and "line 5" in imported.out
    assert "enrolled 2" in imported.out and "suppressed 1" in imported.out
    cli("enroll", "agencies-reengage", "--email", "cy@beta.io").ok()

    conninfo = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        prospects = {r[0]: r[1] for r in conn.execute("SELECT email, source FROM prospects")}
        enrolled = set(conn.execute("SELECT p.email, e.sequence_name FROM enrollments e "
                                    "JOIN prospects p ON p.id = e.prospect_id").fetchall())
    assert prospects == {"ann@acme.com": "pg-list", "bob@blocked.example": "pg-list", "cy@beta.io": "pg-list"}
    assert enrolled == {("ann@acme.com", "founders-q3"), ("cy@beta.io", "founders-q3"), ("cy@beta.io", "agencies-reengage")}
    # The workspace's own SQLite file was never created: the environment variable won.
    assert workspace.config is not None and not (workspace.config.parent / "outbound.db").exists()
