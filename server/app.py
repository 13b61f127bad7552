"""The hub: a grpc.aio server over mutual TLS with the ecx services, health and reflection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from types import TracebackType

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ecx.v1 import audit_pb2, consultation_pb2, denial_pb2, notice_pb2, participant_pb2
from server.clock import Clock, SystemClock
from server.config import HubConfig
from server.domain.consultations import ConsultationRules
from server.domain.denials import DenialRules
from server.domain.notices import NoticeRules
from server.errors import ConfigError
from server.identity import Authenticator
from server.logs import escaped
from server.refusals import RefusalGuard
from server.registry import Registry
from server.revocation import RevocationList
from server.rpc import ForeignServiceGuard, RpcGate
from server.services.audit import ExchangeLog
from server.services.consultations import ConsultationDesk
from server.services.denials import DenialExchange
from server.services.notices import NoticeDesk
from server.services.paging import PositionTokens
from server.services.participants import ParticipantDirectory
from server.services.screening import Screener
from server.services.signed import SignedState
from server.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

SERVICES = (
    participant_pb2.DESCRIPTOR.services_by_name["ParticipantService"],
    denial_pb2.DESCRIPTOR.services_by_name["DenialService"],
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"],
    consultation_pb2.DESCRIPTOR.services_by_name["ConsultationService"],
    notice_pb2.DESCRIPTOR.services_by_name["NoticeService"],
)


def load_log_key(path: Path) -> ed25519.Ed25519PrivateKey:
    """The hub's Ed25519 key for signing log checkpoints."""
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except ValueError as e:
        raise ConfigError(f"{path} is not a PEM private key") from e
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigError(f"{path} must hold an Ed25519 key")
    return key


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from e


class Hub:
    """The running hub. `async with Hub(config) as hub:` serves until the block ends."""

    def __init__(self, config: HubConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.store = SqliteStore(config.store, batch_max=config.limits.write_batch_max)
        self.screener = Screener(
            self.store, self.clock, max_word_pairs=config.limits.max_screening_word_pairs
        )
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._summaries: asyncio.Task[None] | None = None
        self._health = health.aio.HealthServicer()
        self._registry: Registry | None = None
        self._crl: RevocationList | None = None

    async def __aenter__(self) -> Hub:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        cfg = self.config
        ca_pem = _read(cfg.tls.client_ca)
        crl = self._crl = RevocationList.for_tls(cfg.tls, ca_pem)
        registry = self._registry = Registry.load(cfg.registry, crl)
        authenticator = Authenticator(registry, crl, self.clock)
        log_key = load_log_key(cfg.log_signing_key)
        tokens = PositionTokens.from_log_key(log_key)
        await self.store.open()
        self.refusals = RefusalGuard(
            self.store,
            self.clock,
            per_minute=cfg.limits.refusals_per_minute,
            burst=cfg.limits.refusal_burst,
        )
        gate = RpcGate(authenticator, self.store, self.clock, self.refusals)
        denial_rules = DenialRules(validity_years=cfg.validity_years)
        signed = SignedState(registry, denial_rules)
        implementations = (
            ParticipantDirectory(registry, self.store, self.clock),
            DenialExchange(
                self.store, registry, self.clock, cfg.limits, denial_rules, signed, tokens
            ),
            ExchangeLog(self.store, self.clock, log_key, cfg.log_origin),
            ConsultationDesk(
                self.store,
                registry,
                self.clock,
                ConsultationRules(answer_days=cfg.consultation_answer_days),
                self.screener,
                signed,
                tokens,
            ),
            NoticeDesk(
                self.store,
                registry,
                self.clock,
                NoticeRules(review_years=cfg.notice_review_years),
                signed,
                tokens,
            ),
        )
        age_ms = cfg.limits.max_connection_age_seconds * 1000
        server = grpc.aio.server(
            interceptors=[ForeignServiceGuard(gate, ("/grpc.reflection.",))],
            options=[
                ("grpc.max_receive_message_length", cfg.limits.max_message_bytes),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ("grpc.max_connection_age_ms", age_ms),
                ("grpc.max_connection_age_grace_ms", 30_000),
                # Worker processes share the port; the kernel spreads connections over them
                # (only processes of the same user can join). Otherwise the port is ours alone.
                ("grpc.so_reuseport", 1 if cfg.workers > 1 else 0),
            ],
        )
        server.add_generic_rpc_handlers(
            [gate.service(d, impl) for d, impl in zip(SERVICES, implementations, strict=True)]
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = [d.full_name for d in SERVICES] + [
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ]
        reflection.enable_server_reflection(names, server)
        credentials = grpc.ssl_server_credentials(
            [(_read(cfg.tls.key), _read(cfg.tls.cert))],
            root_certificates=ca_pem,
            require_client_auth=True,
        )
        try:
            self.port = server.add_secure_port(cfg.listen, credentials)
        except RuntimeError as e:
            await self.store.close()
            raise ConfigError(f"cannot listen on {cfg.listen}: {e}") from e
        await server.start()
        self._server = server
        self._summaries = asyncio.create_task(
            self.refusals.summarise_every(cfg.limits.refusal_summary_seconds),
            name="refusal-summaries",
        )
        for d in SERVICES:
            await self._health.set(d.full_name, health_pb2.HealthCheckResponse.SERVING)
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info("hub listening on %s (store %s)", self.address, cfg.store)

    def reload_registry(self) -> bool:
        """Put a fresh reading of the participant registry in place of the one in use, for every
        service at once (hub.toml is not read again); a file that is refused leaves the one in
        use. Each outcome is logged in one line."""
        if self._registry is None or self._crl is None:
            return False
        try:
            fresh = Registry.load(self.config.registry, self._crl)
        except ConfigError as e:
            log.error("registry not reloaded, the one in use stays: %s", escaped(e.message))
            return False
        except Exception as e:  # whatever else failed, the registry in use stays
            log.error("registry not reloaded, the one in use stays: %s", type(e).__name__)
            return False
        self._registry.replace(fresh)
        log.info("registry reloaded: %d participants (hub.toml is not re-read)", len(fresh.all()))
        return True

    @property
    def address(self) -> str:
        host = self.config.listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def stop(self, grace: float = 5.0) -> None:
        if self._server is not None:
            await self._health.enter_graceful_shutdown()
            await self._server.stop(grace)
            self._server = None
        if self._summaries is not None:
            self._summaries.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._summaries
            self._summaries = None
            await self.refusals.flush()
        await self.store.close()

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
