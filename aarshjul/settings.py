"""The one settings object. Built once (``get_settings``) and passed to whatever needs it."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aarshjul.domain.enums import Language

WEAK_SECRETS = {"secret", "changeme", "change-me", "password", "development", "dev"}
MIN_SECRET_LENGTH = 32


class ConfigurationError(RuntimeError):
    """The configuration cannot run the service; the message says what to set."""


class Settings(BaseSettings):
    # An empty variable means "not set": a prefect.yaml job variable whose value was not exported at
    # deploy time arrives empty and must leave the default in place.
    model_config = SettingsConfigDict(env_prefix="AARSHJUL_", extra="ignore", env_ignore_empty=True)

    data_dir: Path = Field(default=Path("aarshjul-data"), description="SQLite file and local Prefect files")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in data_dir if unset")
    base_url: str = Field(default="http://127.0.0.1:8000", description="Used in emailed links")
    secret_key: SecretStr | None = None
    demo: bool = False
    #: Production unless told otherwise: no /dev/outbox, no mail redirection. ``--demo`` is a
    #: development environment of its own.
    environment: Literal["development", "production"] = "production"
    time_zone: str = "Europe/Oslo"
    #: The organisation's language where nothing else decides: a page whose reader names none (no
    #: ``?lang=``, no Accept-Language we speak), a person the organisation file gives no language.
    default_language: Language = Language.NB

    mail_backend: Literal["outbox", "sendgrid", "smtp"] = "outbox"
    mail_from: str = "Årshjul <aarshjul@example.no>"
    mail_redirect_to: str | None = Field(default=None, description="Send all mail here (not in production)")
    sendgrid_api_key: SecretStr | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: STARTTLS before sending; on by default whenever a user name is set, so a password never
    #: crosses the network in clear unless this is set to false on purpose.
    smtp_starttls: bool | None = None

    sms_backend: Literal["outbox", "twilio"] = "outbox"
    sms_redirect_to: str | None = Field(default=None, description="Send every SMS here (not in production)")
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = Field(default=None, description="The sending number (E.164) or alphanumeric sender")
    twilio_messaging_service_sid: str | None = Field(default=None, description="A messaging service, instead of from")

    cycle_definition_path: Path | None = Field(default=None, description="Default: the packaged standard cycle")
    sweep_interval_minutes: int = Field(default=15, ge=1, le=24 * 60)
    link_grace_days: int = Field(default=30, ge=0, le=365, description="Read-only receipt after a task closes")

    # Single sign-on through an OpenID Provider (Microsoft Entra ID or any other): on when the issuer,
    # client id and client secret are all set. README "Single sign-on with Microsoft Entra ID".
    oidc_issuer: str | None = Field(default=None, description="The provider's issuer URL (discovery is read from it)")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    #: The group whose members are HR when they sign in through the provider (Entra ID: the group's
    #: object id). Unset: those marked HR in the organisation's data are HR.
    oidc_hr_group: str | None = None
    oidc_groups_claim: str = Field(default="groups", description="The ID token claim that lists the groups")
    oidc_scopes: str = Field(default="openid email profile", description="Scopes asked for, separated by spaces")
    oidc_name: str = Field(default="Microsoft Entra ID", description='Shown as "Sign in with <name>"')
    #: HR's local passwords; false leaves single sign-on as the only way in.
    local_passwords: bool = True

    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Reverse proxies (addresses or networks) whose X-Forwarded-For is believed"
    )
    prefect_retention_days: int = Field(
        default=90, ge=1, le=3650, description="The local Prefect server deletes finished flow runs after this"
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        # Read from the environment as "10.0.0.5, 10.1.0.0/16"; a list is taken as it is.
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an address or network: {entry!r} (use e.g. 10.0.0.5 or 10.1.0.0/16)") from exc
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_without_slash(cls, value: str | None) -> str | None:
        # The ID token's iss is compared exactly; Entra ID's ends in /v2.0 with no slash.
        return value.rstrip("/") if value else None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Oslo)") from exc
        return value

    @property
    def development(self) -> bool:
        """Demo mode, or an environment explicitly set to development."""
        return self.demo or self.environment == "development"

    @property
    def mail_backend_chosen(self) -> bool:
        """Whether AARSHJUL_MAIL_BACKEND was given, rather than left at its default."""
        return "mail_backend" in self.model_fields_set

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @property
    def use_starttls(self) -> bool:
        if self.smtp_starttls is not None:
            return self.smtp_starttls
        return bool(self.smtp_username)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'aarshjul.sqlite3').resolve()}"

    @property
    def prefect_home(self) -> Path:
        return (self.data_dir / "prefect").resolve()

    def secret(self) -> str:
        """The signing secret. In demo mode a random one is kept in the data directory."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if not self.demo:
            raise ConfigurationError(
                "AARSHJUL_SECRET_KEY is not set. Set it to a random string of at least "
                f"{MIN_SECRET_LENGTH} characters, for example the output of: "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        path = self.data_dir / "demo-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # Created owner-only from the start: a chmod after writing leaves a moment it is readable.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def check_for_start(self) -> None:
        """Refuse to start with a missing or weak secret, or unusable mail settings, outside demo mode."""
        secret = self.secret()
        weak = len(secret) < MIN_SECRET_LENGTH or secret.lower() in WEAK_SECRETS or len(set(secret)) < 10
        if weak and not self.demo:
            raise ConfigurationError(
                f"AARSHJUL_SECRET_KEY is too weak: use at least {MIN_SECRET_LENGTH} random characters."
            )
        if self.mail_backend == "sendgrid" and self.sendgrid_api_key is None:
            raise ConfigurationError("AARSHJUL_MAIL_BACKEND=sendgrid needs AARSHJUL_SENDGRID_API_KEY.")
        if not self.development and self.mail_redirect_to:
            raise ConfigurationError(
                "AARSHJUL_MAIL_REDIRECT_TO is for test environments: set AARSHJUL_ENVIRONMENT=development "
                "to use it, or remove it."
            )
        self._check_sign_in()
        if self.mail_backend == "outbox" and not self.demo and not self.mail_backend_chosen:
            raise ConfigurationError(
                "No mail backend is set, so no email would leave this machine. Set AARSHJUL_MAIL_BACKEND=smtp "
                "(with AARSHJUL_SMTP_HOST) or AARSHJUL_MAIL_BACKEND=sendgrid (with AARSHJUL_SENDGRID_API_KEY); "
                "AARSHJUL_MAIL_BACKEND=outbox keeps mail in the database on purpose; --demo tries the product out."
            )
        if not self.development and self.sms_redirect_to:
            raise ConfigurationError(
                "AARSHJUL_SMS_REDIRECT_TO is for test environments: set AARSHJUL_ENVIRONMENT=development "
                "to use it, or remove it."
            )
        if self.sms_backend == "twilio":
            if self.twilio_account_sid is None or self.twilio_auth_token is None:
                raise ConfigurationError(
                    "AARSHJUL_SMS_BACKEND=twilio needs AARSHJUL_TWILIO_ACCOUNT_SID and AARSHJUL_TWILIO_AUTH_TOKEN."
                )
            if not self.twilio_from and not self.twilio_messaging_service_sid:
                raise ConfigurationError(
                    "AARSHJUL_SMS_BACKEND=twilio needs AARSHJUL_TWILIO_FROM or AARSHJUL_TWILIO_MESSAGING_SERVICE_SID."
                )

    def _check_sign_in(self) -> None:
        given = [name for name in ("oidc_issuer", "oidc_client_id", "oidc_client_secret") if getattr(self, name)]
        if given and not self.oidc_enabled:
            missing = {"oidc_issuer", "oidc_client_id", "oidc_client_secret"} - set(given)
            names = ", ".join(f"AARSHJUL_{name.upper()}" for name in sorted(missing))
            raise ConfigurationError(f"Single sign-on needs all of its settings: set {names} as well.")
        if self.oidc_issuer and not self.oidc_issuer.startswith("https://") and not self.development:
            raise ConfigurationError("AARSHJUL_OIDC_ISSUER must be an https:// URL.")
        if not self.local_passwords and not self.oidc_enabled:
            raise ConfigurationError(
                "AARSHJUL_LOCAL_PASSWORDS=false leaves no way to sign in: set up single sign-on "
                "(AARSHJUL_OIDC_ISSUER, AARSHJUL_OIDC_CLIENT_ID, AARSHJUL_OIDC_CLIENT_SECRET) too."
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
