"""One typed settings object, read once from the environment (prefix ``REGULARS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration of Regulars."""

    model_config = SettingsConfigDict(env_prefix="REGULARS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/regulars.db",
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://… in production.",
    )
    var_dir: Path = Field(default=Path("./var"), description="Files: keys, reports, uploads.")
    data_key: str | None = Field(
        default=None,
        description="Base64 32-byte key for personal data at rest (made under var_dir if unset).",
    )
    shared_data_dir: Path = Field(
        default=Path("../shared/data"), description="Where the public retail datasets live."
    )
    default_locale: str = Field(default="en", description="Locale for messages: en or zh_CN.")
    timezone: str = Field(
        default="Asia/Shanghai", description="Time zone in which pages show times (stored in UTC)."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    db_pool_size: int = 10
    db_pre_ping: bool = Field(
        default=False,
        description=(
            "Test each pooled connection with a round trip before the server uses it. Off: "
            "it costs a round trip per request, and after a database restart a stale "
            "connection fails one request per process with 503 (tills retry; receipts are "
            "idempotent) while the pool is renewed."
        ),
    )
    sql_echo: bool = False
    smtp_host: str | None = Field(
        default=None, description="SMTP server for email from the outbox; unset: email waits."
    )
    smtp_port: int = Field(default=25, description="SMTP port (587 with STARTTLS, 465 for TLS).")
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server asks.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_security: str = Field(
        default="none", description="none, starttls or tls (the connection's encryption)."
    )
    mail_from: str = Field(
        default="Regulars <noreply@localhost>", description="The From of outgoing email."
    )
    sms_gateway_url: str | None = Field(
        default=None,
        description="HTTP endpoint of the SMS gateway (POST JSON {to, text}); unset: SMS waits.",
    )
    sms_gateway_token: str | None = Field(
        default=None, description="Bearer token sent to the SMS gateway."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (tests clear the cache to override)."""
    return Settings()
