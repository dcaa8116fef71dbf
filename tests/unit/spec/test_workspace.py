import filecmp
import json
import shutil
from pathlib import Path

import pytest

from outbound.app.workspace import inspect_workspace, load_workspace
from outbound.config import load_config
from outbound.errors import ConfigError, WorkspaceError
from outbound.spec.schema import json_schema
from tests.fixtures.common import DATA, ROOT


def test_shipped_workspace_is_valid() -> None:
    ws = load_workspace(ROOT / "config.toml")
    assert set(ws.sequences) == {"founders-q3", "agencies-reengage"}
    assert set(ws.domains) == {"acme-mail.com", "tryacme.io"}
    assert all(len(d.mailboxes) >= 2 for d in ws.domains.values())
    assert all(3 <= len(s.sequence.steps) <= 5 for s in ws.sequences.values())


def test_init_template_matches_shipped_workspace() -> None:
    template = ROOT / "outbound" / "workspace_template"
    for name in ("config.toml", "scoring.yaml", "sequences", "domains"):
        a, b = ROOT / name, template / name
        if a.is_file():
            assert filecmp.cmp(a, b, shallow=False), name
        else:
            cmp = filecmp.dircmp(a, b)
            assert not (cmp.left_only or cmp.right_only or cmp.diff_files), name


def test_shipped_schemas_are_current() -> None:
    for kind in ("sequence", "domain"):
        shipped = json.loads((ROOT / "schemas" / f"{kind}.schema.json").read_text())
        assert shipped == json.loads(json.dumps(json_schema(kind))), f"run `outbound schema --out schemas` ({kind})"


def _messages(root: Path) -> list[str]:
    ws = inspect_workspace(root / "config.toml")
    return [f"{Path(str(p.path)).name}:{p.line}:{p.message}" for p in ws.errors]


def test_broken_workspace_names_file_line_and_field() -> None:
    msgs = _messages(DATA / "workspaces" / "broken")
    def has(prefix: str, needle: str) -> bool:
        return any(m.startswith(prefix) and needle in m for m in msgs)
    assert has("bad-indent.yaml:4:", "YAML syntax"), msgs
    assert has("unknown-key.yaml:5:", "unknown key 'mailboxes[0].daily_capp'; did you mean 'daily_cap'?"), msgs
    assert has("unknown-key.yaml:6:", "unknown key 'mailboxes[0].smtp.password'; did you mean 'password_env'?"), msgs
    assert has("bad-wait.yaml:8:", "cannot read 'three days'"), msgs
    assert has("missing-file.yaml:7:", "template file 'missing-file/nope.txt.j2' not found"), msgs
    assert has("missing-file.yaml:2:", "no sending domain 'nowhere.example'"), msgs
    assert has("undefined-var.yaml:7:", "undefined variable compnay"), msgs
    with pytest.raises(WorkspaceError):
        load_workspace(DATA / "workspaces" / "broken" / "config.toml")


def test_config_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[daemon]\nsend_intervall = '30s'\n")
    with pytest.raises(ConfigError, match=r"daemon.send_intervall\] unknown setting"):
        load_config(bad)
    bad.write_text("[daemon\n")
    with pytest.raises(ConfigError, match=r"config\.toml"):
        load_config(bad)
    bad.write_text("[daemon]\nlease = '10m'\n[database]\nurl = 'sqlite:///x.db'\n")
    cfg = load_config(bad)
    assert cfg.settings.daemon.lease.total_seconds() == 600
    assert cfg.database_url == f"sqlite:///{tmp_path / 'x.db'}"


def test_database_url_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    monkeypatch.setenv("OUTBOUND_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("OUTBOUND_CONFIG", str(tmp_path / "config.toml"))
    cfg = load_config(None)
    assert cfg.path == tmp_path / "config.toml" and cfg.database_url == "postgresql+psycopg://u@h/db"
