"""Hub configuration: one TOML file, loaded once into frozen values checked against its schema."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from server.errors import ConfigError
from server.schema import PATH, Key, Problems, Table, integer, optional, read_sections, text


@dataclass(frozen=True)
class TlsConfig:
    cert: Path
    key: Path
    client_ca: Path
    crl: Path | None


@dataclass(frozen=True)
class Limits:
    """Bounds that protect the hub from oversized or endless requests."""

    max_message_bytes: int = 1024 * 1024
    max_connection_age_seconds: int = 3600
    max_page_size: int = 500
    default_page_size: int = 100
    max_sync_batch: int = 1000
    write_batch_max: int = 256
    # Refused calls per caller (or unauthenticated certificate) logged one by one: a bucket of
    # this many, refilled at this rate; past it, calls are refused at once and only counted.
    refusal_burst: int = 60
    refusals_per_minute: int = 120
    # How often the counted refusals are written to the exchange log as summary entries.
    refusal_summary_seconds: int = 60
    # Word pairs one ScreenTransaction may compare (see client.core.names.comparison_cost):
    # about 20 microseconds each here, so a screening costs well under a second of CPU at most.
    max_screening_word_pairs: int = 20_000


_LISTEN = Key("listen", text("HOST:PORT", lambda v: ":" in v), "127.0.0.1:50051")
_WORKERS = Key("workers", integer(1, 64), 1)
_CERT = Key("cert", PATH)
_KEY = Key("key", PATH)
_CLIENT_CA = Key("client_ca", PATH)
_CRL = Key("crl", optional(PATH), None)
_REGISTRY = Key("file", PATH)
# Relative to the working directory, unlike the paths relative to hub.toml.
_STORE = Key("path", PATH, Path("var/ecx.db"))
_SIGNING_KEY = Key("signing_key", PATH)
_ORIGIN = Key(
    "origin",
    text("a name without spaces or '+'", lambda v: not any(c in v for c in " +")),
    "ecx.eu/exchange-log",
)
_LIMITS = tuple(Key(f.name, integer(1), f.default) for f in fields(Limits))
_VALIDITY = Key("validity_years", integer(1, 10), 3)
_ANSWER_DAYS = Key("answer_days", integer(1, 365), 21)
_REVIEW_YEARS = Key("review_years", integer(1, 10), 2)
_HANDSHAKE_SUMMARY = Key("handshake_summary_seconds", integer(1, 86400), 60)

HUB_TOML = (
    Table("server", (_LISTEN, _WORKERS)),
    Table("tls", (_CERT, _KEY, _CLIENT_CA, _CRL)),
    Table("registry", (_REGISTRY,)),
    Table("store", (_STORE,)),
    Table("log", (_SIGNING_KEY, _ORIGIN)),
    Table("limits", _LIMITS),
    Table("denials", (_VALIDITY,)),
    Table("consultations", (_ANSWER_DAYS,)),
    Table("notices", (_REVIEW_YEARS,)),
    Table("logging", (_HANDSHAKE_SUMMARY,)),
)


@dataclass(frozen=True)
class HubConfig:
    listen: str
    tls: TlsConfig
    registry: Path
    store: Path
    log_signing_key: Path
    log_origin: str = "ecx.eu/exchange-log"
    limits: Limits = field(default_factory=Limits)
    validity_years: int = 3
    consultation_answer_days: int = 21
    # How far ahead a notice's review date may lie [assumed: two years, the clients' default].
    notice_review_years: int = 2
    # Hub processes serving the one port and sharing the store (see server.main).
    workers: int = 1
    # Seconds between two summaries of failed TLS handshakes in the hub's log (see server.logs).
    handshake_summary_seconds: int = 60

    @classmethod
    def load(cls, path: Path) -> HubConfig:
        """Read hub.toml; relative certificate and registry paths are relative to the file."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read configuration {path}: {e}") from e
        return cls.from_mapping(raw, base=path.parent, source=str(path))

    @classmethod
    def from_mapping(
        cls, raw: dict[str, Any], *, base: Path, source: str = "hub.toml"
    ) -> HubConfig:
        """The configuration a parsed hub.toml describes, or ConfigError naming every unknown,
        missing or invalid key (up to a bound) with what is allowed there."""
        problems = Problems(source)
        values = read_sections(raw, HUB_TOML, problems)
        problems.raise_if_any()

        def resolved(path: Path) -> Path:
            return path if path.is_absolute() else base / path

        crl = values[_CRL]
        return cls(
            listen=values[_LISTEN],
            workers=values[_WORKERS],
            tls=TlsConfig(
                cert=resolved(values[_CERT]),
                key=resolved(values[_KEY]),
                client_ca=resolved(values[_CLIENT_CA]),
                crl=resolved(crl) if crl is not None else None,
            ),
            registry=resolved(values[_REGISTRY]),
            store=values[_STORE],
            log_signing_key=resolved(values[_SIGNING_KEY]),
            log_origin=values[_ORIGIN],
            limits=Limits(**{key.name: values[key] for key in _LIMITS}),
            validity_years=values[_VALIDITY],
            consultation_answer_days=values[_ANSWER_DAYS],
            notice_review_years=values[_REVIEW_YEARS],
            handshake_summary_seconds=values[_HANDSHAKE_SUMMARY],
        )
