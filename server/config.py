"""Hub configuration: one TOML file, loaded once into frozen, validated values."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.errors import ConfigError


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
    # Word pairs one ScreenTransaction may compare (see client.core.names.comparison_cost):
    # about 20 microseconds each here, so a screening costs well under a second of CPU at most.
    max_screening_word_pairs: int = 20_000


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
    # Hub processes serving the one port and sharing the store (see server.main).
    workers: int = 1

    @classmethod
    def load(cls, path: Path) -> HubConfig:
        """Read hub.toml; relative certificate and registry paths are relative to the file."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read configuration {path}: {e}") from e
        return cls.from_mapping(raw, base=path.parent)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], *, base: Path) -> HubConfig:
        def section(name: str) -> dict[str, Any]:
            value = raw.get(name, {})
            if not isinstance(value, dict):
                raise ConfigError(f"[{name}] must be a table")
            return value

        def path_of(table: str, key: str, *, required: bool = True) -> Path | None:
            value = section(table).get(key)
            if value is None:
                if required:
                    raise ConfigError(f"[{table}] {key} is required")
                return None
            if not isinstance(value, str) or not value:
                raise ConfigError(f"[{table}] {key} must be a path")
            p = Path(value)
            return p if p.is_absolute() else base / p

        def required_path(table: str, key: str) -> Path:
            p = path_of(table, key)
            assert p is not None
            return p

        limits_raw = section("limits")
        defaults = Limits()
        limit_values: dict[str, int] = {}
        for name in Limits.__dataclass_fields__:
            value = limits_raw.get(name, getattr(defaults, name))
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"[limits] {name} must be a positive integer")
            limit_values[name] = value
        unknown = set(limits_raw) - set(Limits.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"[limits] unknown keys: {', '.join(sorted(unknown))}")

        listen = section("server").get("listen", "127.0.0.1:50051")
        if not isinstance(listen, str) or ":" not in listen:
            raise ConfigError("[server] listen must be HOST:PORT")
        workers = section("server").get("workers", 1)
        if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 64:
            raise ConfigError("[server] workers must be an integer 1-64")
        store_value = section("store").get("path", "var/ecx.db")
        if not isinstance(store_value, str):
            raise ConfigError("[store] path must be a path")
        origin = section("log").get("origin", "ecx.eu/exchange-log")
        if not isinstance(origin, str) or not origin or any(c in origin for c in " +\n"):
            raise ConfigError("[log] origin must be a name without spaces or '+'")
        validity = section("denials").get("validity_years", 3)
        if not isinstance(validity, int) or not 1 <= validity <= 10:
            raise ConfigError("[denials] validity_years must be an integer 1-10")
        answer_days = section("consultations").get("answer_days", 21)
        if not isinstance(answer_days, int) or not 1 <= answer_days <= 365:
            raise ConfigError("[consultations] answer_days must be an integer 1-365")
        return cls(
            consultation_answer_days=answer_days,
            listen=listen,
            tls=TlsConfig(
                cert=required_path("tls", "cert"),
                key=required_path("tls", "key"),
                client_ca=required_path("tls", "client_ca"),
                crl=path_of("tls", "crl", required=False),
            ),
            registry=required_path("registry", "file"),
            store=Path(store_value),
            log_signing_key=required_path("log", "signing_key"),
            log_origin=origin,
            limits=Limits(**limit_values),
            validity_years=validity,
            workers=workers,
        )
