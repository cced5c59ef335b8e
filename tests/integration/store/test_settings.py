from __future__ import annotations

import stat
from pathlib import Path

import pytest
import structlog

from ml_connector.settings import KEY_FILE, load_settings
from ml_connector.store.crypto import Cipher


def test_defaults_put_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert (
        settings.resolved_database_url
        == f"sqlite+aiosqlite:///{tmp_path.resolve()}/ml-connector.db"
    )
    assert settings.ramp_api_base_url == "https://api.ramp.com/developer/v1"
    assert settings.freshbooks_auth_base_url == "https://auth.freshbooks.com"


def test_environment_keys_are_a_comma_list_and_stay_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLC_ENCRYPTION_KEYS", "k-new, k-old")
    monkeypatch.setenv("MLC_ADMIN_PASSWORD", "pw-123")
    monkeypatch.setenv("MLC_DATABASE_URL", "postgresql://db/mlc")
    settings = load_settings(data_dir=tmp_path)
    assert settings.resolved_encryption_keys() == ["k-new", "k-old"]
    assert settings.resolved_database_url == "postgresql://db/mlc"
    text = repr(settings) + str(settings.model_dump())
    assert "k-new" not in text
    assert "pw-123" not in text
    assert not (tmp_path / KEY_FILE).exists()


def test_development_key_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    with structlog.testing.capture_logs() as logs:
        first = settings.resolved_encryption_keys()
    second = settings.resolved_encryption_keys()
    assert first == second
    Cipher(first)  # a valid Fernet key
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [e["event"] for e in logs] == ["settings.generated_encryption_key"]
    assert first[0] not in str(logs)


def test_config_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "mlc.toml"
    config.write_text('public_url = "https://sync.example.com"\nadmin_username = "ops"\n')
    monkeypatch.setenv("MLC_CONFIG_FILE", str(config))
    monkeypatch.setenv("MLC_ADMIN_USERNAME", "root-override")
    settings = load_settings()
    assert settings.public_url == "https://sync.example.com"
    assert settings.admin_username == "root-override"
