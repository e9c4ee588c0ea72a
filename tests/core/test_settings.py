"""Settings: defaults that work on a laptop, a TOML file, environment variables on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from smscast.config import load_settings


def test_defaults_env_and_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SMSCAST_DATABASE_URL", "SMSCAST_PORT", "SMSCAST_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings().database_url == "sqlite:///./var/smscast.db"
    assert load_settings().port == 8000

    (tmp_path / "smscast.toml").write_text('port = 9001\ndatabase_url = "sqlite:///x.db"\n')
    assert load_settings().port == 9001
    monkeypatch.setenv("SMSCAST_PORT", "9002")
    settings = load_settings()
    assert (settings.port, settings.database_url) == (9002, "sqlite:///x.db")


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "var", secret_key="")
    key = settings.resolved_secret_key()
    assert len(key) == 64
    assert load_settings(data_dir=tmp_path / "var", secret_key="").resolved_secret_key() == key
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o077 == 0


def test_a_wrong_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSCAST_PORT", "eighty")
    with pytest.raises(ValueError, match="port"):
        load_settings()
