"""The principals file: what it accepts and refuses; `rmbook auth init`; `rmbook serve` checks."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interfaces.cli.main import app as cli
from interfaces.http.auth import AuthConfigError, Principals, Role

GOOD = """
[[principal]]
token = "s3cret-admin"
name = "ops-admin"
role = "admin"
branches = ["*"]

[[principal]]
token_sha256 = "{digest}"
name = "m1"
role = "manager"
branches = ["B01"]
staff_no = "M001"
""".format(digest=hashlib.sha256(b"s3cret-manager").hexdigest())


def load(tmp_path: Path, text: str) -> Principals:
    path = tmp_path / "auth.toml"
    path.write_text(text, "utf-8")
    return Principals.load(path)


def test_tokens_in_clear_or_hashed_authenticate(tmp_path: Path) -> None:
    principals = load(tmp_path, GOOD)
    admin = principals.authenticate("s3cret-admin")
    manager = principals.authenticate("s3cret-manager")
    assert admin is not None and admin.role is Role.ADMIN and admin.all_branches
    assert admin.actor == "ops-admin"
    assert manager is not None and manager.actor == "M001" and manager.sees("B01")
    assert not manager.sees("B02")
    assert principals.authenticate("s3cret") is None
    assert principals.authenticate("") is None


@pytest.mark.parametrize(("change", "message"), [
    (('role = "admin"', 'role = "root"'), "role must be one of"),
    (('token = "s3cret-admin"', 'token = "short"'), "at least 8"),
    (('token = "s3cret-admin"', 'token = "s3cret-admin"\ntoken_sha256 = "' + "0" * 64 + '"'),
     "exactly one of"),
    (('token = "s3cret-admin"', ''), "exactly one of"),
    (('token_sha256 = "', 'token_sha256 = "zz'), "64 hex digits"),
    (('staff_no = "M001"', ''), "needs its staff_no"),
    (('branches = ["*"]', 'branches = []'), "branches"),
    (('branches = ["*"]', 'branches = ["B 1"]'), "branches"),
    (('name = "m1"', 'name = "ops-admin"'), "unique"),
    (('[[principal]]\ntoken = "s3cret-admin"', 'principal = 5\n[[x]]\ntoken = "s3cret-admin"'),
     "not valid TOML"),
])
def test_a_malformed_file_is_refused_at_start_up(tmp_path: Path, change: tuple[str, str],
                                                 message: str) -> None:
    with pytest.raises(AuthConfigError, match=message) as refused:
        load(tmp_path, GOOD.replace(*change, 1))
    assert "s3cret" not in str(refused.value)


def test_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="cannot read"):
        Principals.load(tmp_path / "absent.toml")
    with pytest.raises(AuthConfigError, match="no \\[\\[principal\\]\\]"):
        load(tmp_path, "")


def test_auth_init_writes_a_private_file_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "auth.toml"
    runner = CliRunner()
    made = runner.invoke(cli, ["auth", "init", "--path", str(path)])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tokens = re.findall(r"^\s+(\w+)\s+\S+\s+(\S+)$", made.output, re.MULTILINE)
    assert sorted(role for role, _ in tokens) == sorted(r.value for r in Role)
    principals = Principals.load(path)
    for role, token in tokens:
        found = principals.authenticate(token)
        assert found is not None and found.role == role
    again = runner.invoke(cli, ["auth", "init", "--path", str(path)])
    assert "not overwritten" in again.output and tokens[0][1] in again.output
    forced = runner.invoke(cli, ["auth", "init", "--path", str(path), "--force", "--hashed"])
    assert forced.exit_code == 0 and tokens[0][1] not in forced.output
    assert "token =" not in path.read_text() and "token_sha256" in path.read_text()


def test_serve_needs_a_principals_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RMBOOK_AUTH_FILE", raising=False)
    refused = CliRunner().invoke(cli, ["serve"])
    assert refused.exit_code == 2 and "RMBOOK_AUTH_FILE" in refused.output
    monkeypatch.setenv("RMBOOK_AUTH_FILE", str(tmp_path / "absent.toml"))
    refused = CliRunner().invoke(cli, ["serve"])
    assert refused.exit_code == 2 and "cannot read" in refused.output
