"""Configuration from `MLC_*` environment variables (or a TOML file), validated at startup.

Secrets are `SecretStr`, so printing the settings never prints them. Encryption keys
are a comma-separated list, newest first: the first encrypts, all decrypt. Without
keys (development), a key is generated once into the data directory with 0600
permissions and the log says so; production sets `MLC_ENCRYPTION_KEYS`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated, Any

import structlog
from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

log = structlog.get_logger(__name__)

KEY_FILE = "encryption.key"
SESSION_SECRET_FILE = "session.secret"  # noqa: S105 - a file name, not a secret
DATABASE_FILE = "ml-connector.db"
CONFIG_FILE_ENV = "MLC_CONFIG_FILE"


class Settings(BaseSettings):
    """Everything the product reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="MLC_", extra="ignore", frozen=True)

    data_dir: Path = Path("./data")
    database_url: str | None = None
    """SQLAlchemy URL; default: a SQLite file in `data_dir`. PostgreSQL for scale-out."""
    public_url: str = "http://127.0.0.1:8000"
    """Where FreshBooks, Ramp and browsers reach us (OAuth redirects, webhook URLs)."""

    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    session_secret: SecretStr | None = None

    freshbooks_client_id: str | None = None
    freshbooks_client_secret: SecretStr | None = None
    freshbooks_api_base_url: str = "https://api.freshbooks.com"
    freshbooks_auth_base_url: str = "https://auth.freshbooks.com"

    ramp_api_base_url: str = "https://api.ramp.com/developer/v1"
    """Production; the sandbox is https://demo-api.ramp.com/developer/v1."""

    admin_username: str = "admin"
    admin_password: SecretStr | None = None

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            # The environment wins over the file, so one variable can override a shared file.
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return (*sources, file_secret_settings)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / DATABASE_FILE).resolve()}"

    def resolved_encryption_keys(self) -> list[str]:
        """The key ring (primary first), generating a development key if none is set."""
        if self.encryption_keys:
            return [key.get_secret_value() for key in self.encryption_keys]
        path = self.data_dir / KEY_FILE
        created = not path.exists()
        key = _load_or_create_secret(path, lambda: Fernet.generate_key().decode("ascii"))
        if created:
            log.warning(
                "settings.generated_encryption_key",
                path=str(path),
                advice="set MLC_ENCRYPTION_KEYS in production and keep a copy of this key",
            )
        return [key]

    def resolved_session_secret(self) -> str:
        """The admin session signing secret, generated once for development if unset."""
        if self.session_secret is not None:
            return self.session_secret.get_secret_value()
        return _load_or_create_secret(
            self.data_dir / SESSION_SECRET_FILE, lambda: Fernet.generate_key().decode("ascii")
        )


def _load_or_create_secret(path: Path, generate: Any) -> str:
    """Read a secret file, or create it readable by its owner only."""
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("settings.secret_file_too_open", path=str(path), mode=oct(mode))
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value: str = generate()
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and `MLC_CONFIG_FILE`), with explicit overrides."""
    return Settings(**overrides)


__all__ = ["Settings", "load_settings"]
