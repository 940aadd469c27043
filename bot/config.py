"""Settings from the environment, built once at start and passed in; never a module global."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.signing import KeyFormatError, load_private_key, parse_public_keys
from storage.token_cipher import ENV as ENCRYPTION_ENV
from storage.token_cipher import TokenKeyError, parse_keys

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///retro.db"
DEFAULT_API_URL = "https://slack.com/api/"


Origin = tuple[str, str, int]  # scheme, lowercase host, port
DEFAULT_PORTS = {"http": 80, "https": 443}


def file_origin(entry: str) -> Origin:
    """One RETRO_FILE_HOSTS entry (`files.example.com`, `https://host:8443`, `http://127.0.0.1:8123`) as an origin."""
    parts = urlsplit(entry if "://" in entry else f"https://{entry}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    host = (parts.hostname or "").rstrip(".")
    if (parts.scheme not in DEFAULT_PORTS or not host or port == -1 or parts.username is not None
            or parts.password is not None or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise ValueError(f"{entry!r} is not a host or an http(s)://host[:port] origin")
    return parts.scheme, host, port or DEFAULT_PORTS[parts.scheme]


class Settings(BaseSettings):
    """Environment variables of the deployment contract (see README)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_api_url: str = DEFAULT_API_URL
    # Origins besides Slack's own file hosts that may receive the bot token for a file download (the sandbox).
    retro_file_hosts: str = ""
    # Origins besides Slack's hooks host whose response_urls Retro answers (a local Slack on another port, a load
    # generator); empty in production.
    retro_reply_hosts: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    port: int = Field(default=3000, ge=0, le=65535)
    host: str = "0.0.0.0"
    retro_templates_dir: Path | None = None
    retro_config: Path | None = None
    retro_artifacts_dir: Path = Path("retro-artifacts")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    retro_scheduler: bool = True
    retro_retention_days: int | None = Field(default=None, ge=1)
    # How long an event's (team_id, event_id) claim is kept: Slack's last retry comes about 6 minutes after the
    # first delivery, so the floor of 1 hour keeps every retry a no-op (bot/record/dedupe.py).
    retro_event_dedupe_hours: int = Field(default=24, ge=1, le=24 * 365)
    # Prometheus metrics: on their own port, or on the Slack port behind a bearer token; neither by default.
    retro_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    retro_metrics_token: SecretStr | None = None
    # Evidence collectors (docs/collectors.md): each is off until its system is configured.
    mlflow_tracking_uri: str | None = None
    mlflow_tracking_token: SecretStr | None = None
    mlflow_tracking_username: str | None = None
    mlflow_tracking_password: SecretStr | None = None
    prometheus_url: str | None = None
    retro_fetch_allow: str = ""
    retro_fetch_allow_private: bool = False
    retro_fetch_timeout: float = Field(default=20.0, gt=0, le=300)
    retro_fetch_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Sent as a bearer token only to the Grafana API of allow-listed hosts (dashboard links), never to pages.
    retro_grafana_token: SecretStr | None = None
    retro_artifact_inline_max: int = Field(default=256 * 1024, ge=0)
    retro_datacheck_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    # A data check's snapshots are kept (content-addressed) up to this size each, so it can be run again from the
    # record and the export bundle; 0 keeps none (docs/postmortem-and-export.md, "Running analyses again").
    retro_keep_inputs_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)
    # Each data check runs in its own worker process, bounded (docs/collectors.md, "Data checks").
    retro_datacheck_max_columns: int = Field(default=1000, ge=1)
    retro_datacheck_max_cells: int = Field(default=50_000_000, ge=1)
    retro_datacheck_max_memory_mb: int = Field(default=1024, ge=0)
    retro_datacheck_timeout: float = Field(default=120.0, gt=0, le=3600)
    retro_datacheck_concurrency: int = Field(default=1, ge=1, le=32)
    retro_datacheck_max_queued: int = Field(default=10, ge=0)
    retro_drift_psi: float = Field(default=0.2, gt=0)
    retro_drift_ks: float = Field(default=0.15, gt=0, le=1)
    retro_drift_null_delta: float = Field(default=0.05, gt=0, le=1)
    # Keys (docs/security.md): installation tokens at rest (Fernet, newest first), bundle signatures (Ed25519).
    retro_encryption_key: SecretStr | None = None
    retro_signing_key: SecretStr | None = None
    retro_verify_keys: str = ""
    # Alert intake (docs/alerts.md): the endpoints exist only with a token; the team alerts belong to (else the
    # only installed workspace); the body cap; how often the alert runner looks for work besides being woken.
    retro_alert_token: SecretStr | None = None
    # The read-only web view under /web/ (docs/web.md): Sign in with Slack with the app's client id and secret
    # (SLACK_CLIENT_* in multi-workspace mode, RETRO_WEB_CLIENT_* beside a bot token), sessions in signed cookies.
    retro_web: bool = True
    retro_public_url: str | None = None
    retro_web_client_id: str | None = None
    retro_web_client_secret: SecretStr | None = None
    retro_web_session_key: SecretStr | None = None
    retro_web_session_hours: float = Field(default=12.0, gt=0, le=24 * 7)
    retro_alert_team: str | None = None
    retro_alert_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    retro_alert_sweep_seconds: float = Field(default=2.0, gt=0, le=3600)
    retro_alert_keep_days: int = Field(default=30, ge=1, le=3650)  # handled notifications kept, then pruned hourly

    @field_validator("retro_encryption_key", "retro_signing_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        text = value.get_secret_value().strip() if value is not None else ""
        try:
            if text and info.field_name == "retro_encryption_key":
                parse_keys(text)
            elif text:
                load_private_key(text, "the key")
        except (TokenKeyError, KeyFormatError) as exc:
            raise ValueError(str(exc).removeprefix(f"{ENCRYPTION_ENV}: ")) from None
        return SecretStr(text) if text else None

    @field_validator("retro_verify_keys")
    @classmethod
    def _verify_keys(cls, value: str) -> str:
        parse_public_keys(value, "the list")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("retro_file_hosts", "retro_reply_hosts")
    @classmethod
    def _file_hosts(cls, value: str) -> str:
        for entry in value.replace(",", " ").split():
            file_origin(entry)
        return value

    def with_collector_urls(self, **urls: str) -> Settings:
        """These settings with other Prometheus / MLflow URLs (`prometheus_url=`, `mlflow_tracking_uri=`), each
        checked as the environment's would be."""
        try:
            return self.model_copy(update={k: self._collector_url(v) for k, v in urls.items()})
        except ValueError as exc:
            raise ConfigError(f"{', '.join(urls)}: {exc}") from None

    @field_validator("mlflow_tracking_uri", "prometheus_url", mode="before")
    @classmethod
    def _collector_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or not value.strip().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL (Retro talks to the server's HTTP API)")
        return value.strip().rstrip("/")

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "retro_metrics_token",
                     "retro_alert_token", "retro_alert_team", "retro_grafana_token", "retro_web_client_secret",
                     "retro_web_session_key", "retro_web_client_id", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def fetch_allow(self) -> tuple[str, ...]:
        """RETRO_FETCH_ALLOW as lowercase host globs (comma or space separated); empty means link only."""
        return tuple(p.lower().rstrip(".") for p in self.retro_fetch_allow.replace(",", " ").split() if p)

    @property
    def file_hosts(self) -> frozenset[Origin]:
        """RETRO_FILE_HOSTS as (scheme, host, port) origins; a bare host means https on port 443."""
        return frozenset(file_origin(e) for e in self.retro_file_hosts.replace(",", " ").split())

    @property
    def reply_hosts(self) -> frozenset[Origin]:
        """RETRO_REPLY_HOSTS as (scheme, host, port) origins, read like RETRO_FILE_HOSTS."""
        return frozenset(file_origin(e) for e in self.retro_reply_hosts.replace(",", " ").split())

    @field_validator("retro_public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or not value.strip().startswith(("http://", "https://")):
            raise ValueError("must be the web view's external http(s) address, like https://retro.example.com")
        return value.strip().rstrip("/")

    @property
    def web_client(self) -> tuple[str, str] | None:
        """The client id and secret Sign in with Slack uses (None: the web view cannot sign anyone in)."""
        for cid, secret in ((self.slack_client_id, self.slack_client_secret),
                            (self.retro_web_client_id, self.retro_web_client_secret)):
            if cid and secret is not None:
                return cid, secret.get_secret_value()
        return None

    @property
    def web_base(self) -> str | None:
        """The web view's external address (`<RETRO_PUBLIC_URL>/web`) for links from Slack; None when it is off or
        its address is not known."""
        return f"{self.retro_public_url}/web" if self.retro_web and self.retro_public_url else None

    @property
    def socket_mode(self) -> bool:
        """Socket Mode is used when an app-level token is configured."""
        return self.slack_app_token is not None

    @property
    def has_slack_credentials(self) -> bool:
        """True when a bot token (or OAuth client) is configured."""
        return self.slack_bot_token is not None or self.slack_client_id is not None

    def check_for_serve(self) -> None:
        """Fail at start, with one line naming the variable, when `retro serve` cannot work."""
        token = self.slack_bot_token.get_secret_value() if self.slack_bot_token else None
        if self.retro_config is not None and not self.retro_config.is_file():
            raise ConfigError(f"RETRO_CONFIG points at {self.retro_config}, which is not a file")
        public = urlsplit(self.retro_public_url or "")
        if self.retro_web and public.scheme == "http" and public.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise ConfigError("RETRO_PUBLIC_URL must be https:// (browsers keep the web view's session cookies for "
                              "https only; plain http works on this machine's own address alone)")
        if self.retro_templates_dir is not None and not self.retro_templates_dir.is_dir():
            raise ConfigError(f"RETRO_TEMPLATES_DIR points at {self.retro_templates_dir}, which is not a folder")
        if token is not None and not token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if self.retro_metrics_port is not None and self.retro_metrics_port == self.port:
            raise ConfigError("RETRO_METRICS_PORT must differ from PORT (the Slack port is public)")
        alert_token = self.retro_alert_token.get_secret_value() if self.retro_alert_token else None
        if alert_token is not None and (len(alert_token) < 16 or any(c.isspace() for c in alert_token)):
            raise ConfigError("RETRO_ALERT_TOKEN must be at least 16 characters, without spaces (a random string)")
        if self.socket_mode:
            app_token = self.slack_app_token.get_secret_value() if self.slack_app_token else ""
            if not app_token.startswith("xapp-"):
                raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
            if token is None:
                raise ConfigError("SLACK_BOT_TOKEN is required with SLACK_APP_TOKEN (Socket Mode)")
            return
        if self.slack_signing_secret is None:
            raise ConfigError("SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)")
        if token is None and self.slack_client_id is None:
            raise ConfigError("SLACK_BOT_TOKEN is required (or SLACK_CLIENT_ID/SLACK_CLIENT_SECRET for OAuth)")
        if self.slack_client_id is not None and self.slack_client_secret is None:
            raise ConfigError("SLACK_CLIENT_SECRET is required when SLACK_CLIENT_ID is set")
        if self.slack_client_id is not None and self.retro_encryption_key is None:
            raise ConfigError("RETRO_ENCRYPTION_KEY is required with SLACK_CLIENT_ID (installed workspaces' tokens "
                              "are stored encrypted with it; `retro keys new encryption` makes one)")


def load_settings(**overrides: object) -> Settings:
    """Read the environment; a malformed variable becomes one ConfigError line naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "configuration"
        raise ConfigError(f"{name}: {err['msg']}") from None
