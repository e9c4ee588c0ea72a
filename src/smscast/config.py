"""The one typed configuration, read once at start and passed down.

Settings come from `SMSCAST_*` environment variables, then from an optional TOML
file (`SMSCAST_CONFIG`, default `./smscast.toml` when it exists), then defaults
that work on a laptop. Environment variables win over the file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = "smscast.toml"


class Settings(BaseSettings):
    """Every setting smscast reads; README.md lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="SMSCAST_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./var/smscast.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    data_dir: Path = Field(Path("./var"), description="Where local state (secret key) lives")
    secret_key: str = Field(
        "",
        description=(
            "Key for keyed hashes (erased phones) and signatures. Empty: generated once "
            "into DATA_DIR/secret.key. Set it explicitly when several machines share a database."
        ),
    )
    host: str = Field("127.0.0.1", description="Address the web server listens on")
    port: int = Field(8000, description="Port the web server listens on")
    default_country: str = Field("PL", description="Country of the first workspace")
    default_timezone: str = Field("Europe/Warsaw", description="Time zone of the first workspace")
    admin_email: str = Field("admin@localhost", description="Login of the first admin user")
    import_batch_size: int = Field(5000, description="Contacts written per transaction on import")
    launch_batch_size: int = Field(
        5000, description="Campaign recipients written per transaction on launch"
    )
    import_workers: int = Field(
        0, description="Processes that parse a large import; 0 means one per CPU core"
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines for people (text) or one JSON object a line (json)"
    )
    simulator: bool = Field(
        True, description="`smscast serve` runs the built-in SMSC simulator and a connector to it"
    )
    simulator_port: int = Field(2775, description="SMPP port of the built-in simulator")
    simulator_http_port: int = Field(
        2776, description="HTTP port of the simulator (inbound injection, stats); 0: none"
    )
    worker_id: str = Field(
        "", description="This worker's name in connector leases; empty: host name and process id"
    )
    metrics_port: int = Field(
        0,
        ge=0,
        lt=65536,
        description="Port on which `smscast worker` serves Prometheus metrics at /metrics "
        "(on METRICS_HOST); 0: none. `smscast serve` answers /metrics on its own port",
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address `smscast worker` serves its metrics on"
    )
    metrics_token: str = Field(
        "",
        description="Bearer token that lets a scraper off this machine read the server's "
        "/metrics (`Authorization: Bearer <token>`); empty: only loopback callers may",
    )
    worker_role: Literal["all", "transmit", "receive"] = Field(
        "all",
        description="What `smscast worker` does: all, or only the sending (transmit) or "
        "receiving (receive) side of SMPP connectors; `smscast serve` always does all",
    )
    claim_batch_size: int = Field(
        1000, description="Most messages one connector claims from the outbox at a time"
    )
    lease_seconds: float = Field(
        15.0, description="How long a worker holds a connector without renewing it"
    )
    launch_resume_after_s: float = Field(
        60.0, description="How long a launch may stand still before a worker resumes it"
    )
    retry_backoff_s: float = Field(
        5.0, description="First wait before resending after a temporary failure (then doubled)"
    )
    retry_backoff_max_s: float = Field(300.0, description="Longest wait between resends")
    message_validity_hours: float = Field(
        48.0, description="How long a message without its own validity may keep being retried"
    )
    dlr_late_window_hours: float = Field(
        72.0, description="How long after sending a delivery report still changes a message"
    )
    inbound_reply_window_hours: float = Field(
        72.0, description="How long after a campaign text an inbound counts as a reply to it"
    )
    auto_reply_limit_per_hour: int = Field(
        5, description="Automatic replies per contact per hour (the loop guard)"
    )
    inbound_flood_per_minute: int = Field(
        30, description="Inbound texts per sender per minute before more are set aside"
    )
    double_opt_in_hours: float = Field(24.0, description="How long a double opt-in waits for YES")
    inbound_resend_window_s: float = Field(
        600.0,
        description="A text with no carrier id, again from the same sender within this, "
        "is taken for the carrier's resend and not answered twice (0: never)",
    )
    session_hours: float = Field(12.0, description="How long a dashboard sign-in lasts, in hours")
    sign_in_lock_minutes: float = Field(
        15.0,
        gt=0,
        description="How long an account or client address stays locked after 10 failed "
        "sign-ins in a row (a correct password is refused too meanwhile)",
    )
    api_max_body_bytes: int = Field(
        10_000_000, description="Largest request body the API accepts (contact imports included)"
    )
    api_rate_limit: int = Field(600, description="Requests per minute per API key or session")
    webhook_allow_private: bool = Field(
        False, description="Let outgoing webhooks reach loopback, link-local and private addresses"
    )
    webhook_timeout_s: float = Field(10.0, description="How long one webhook delivery may take")
    webhook_worker: bool = Field(True, description="Deliver outgoing webhooks from the API process")
    smtp_url: str = Field(
        "",
        description="Mail relay for invitations: smtp://user:pass@host:587 (STARTTLS when "
        "offered) or smtps://user:pass@host:465; empty: no mail, the link is only shown",
    )
    mail_from: str = Field("", description="From address of mail; empty: smscast@<relay host>")
    smtp_timeout_s: float = Field(10.0, gt=0, description="How long one mail to the relay may take")
    smtp_port: int = Field(
        0,
        ge=0,
        lt=65536,
        description="Port of `smscast serve`'s SMTP listener for email replies, bounces and "
        "complaints (on the web server's host); 0: no listener",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get("SMSCAST_CONFIG", DEFAULT_CONFIG_FILE)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if Path(config_file).is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def served_url(self) -> str:
        """Where `smscast serve` answers, `http://HOST:PORT`: the default base of tracked
        links (`/l/…`) for a workspace without a `short_domain`. A wildcard host (0.0.0.0,
        ::) is not an address anyone can open, so it stands for this machine's loopback."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def resolved_secret_key(self) -> bytes:
        """The secret key; on first use without one configured, creates DATA_DIR/secret.key."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text().strip().encode()


def load_settings(**overrides: Any) -> Settings:
    """Reads the settings once; callers pass the result down rather than re-reading."""
    return Settings(**overrides)
