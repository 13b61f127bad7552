"""The seam between gRPC and the hub: identity, the authorization policy and error mapping.

Every ecx RPC goes through `RpcGate.unary` or `RpcGate.stream`: the caller is derived from the
client certificate, the policy decides, the request bytes are parsed (only then: an outsider's
bytes are never parsed), the operation runs, and any error becomes a status with details.
Operations never see a ServicerContext. Health and reflection, served by grpcio's own servicers,
pass through `ForeignServiceGuard`, which gives them the same parsing and, for reflection, the
same authentication.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast

import grpc
from google.protobuf import any_pb2, message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from server import policy
from server.clock import Clock
from server.domain.denials import REFERENCE, escape_for_log, unknown_field
from server.domain.exchange_log import UNAUTHENTICATED_ACTOR, Event
from server.domain.participants import Caller
from server.errors import (
    AuthorizationError,
    CallerError,
    EcxError,
    InvalidArgument,
    ResourceExhausted,
    StateError,
    Unauthenticated,
    status_code,
)
from server.identity import Authenticator
from server.refusals import RefusalGuard, peer_certificate
from server.services.denials import request_digest
from server.store import Store

log = logging.getLogger("ecx.rpc")

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")

Unary = Callable[[Caller, Any], Awaitable[Message]]
Streaming = Callable[[Caller, Any], AsyncIterator[Message | bytes]]


def _serialize(response: Message | bytes) -> bytes:
    """Streams may yield messages, or bytes already serialized as the response type."""
    return response if isinstance(response, bytes) else response.SerializeToString()


# What the `reference` field of a request names, per service, for the log of a refused call.
_OBJECT_KINDS = {
    "DenialService": "denial",
    "ConsultationService": "consultation",
    "NoticeService": "notice",
}

# What of a refusal's reason reaches the hub's log: its text holds what the caller sent (a
# reference, a field name), so it is escaped and its length bounded.
_LOGGED_REASON = 300

# Refusals that count against the caller: its request, its rights or the state it asked about.
# The hub's own failures (a store, a stale CRL) do not.
_CALLERS_FAULT = (CallerError, AuthorizationError, StateError)

_TOO_MANY = "too many refused calls from this caller: wait, then call again"


def _loggable(text: str) -> str:
    if len(text) > _LOGGED_REASON:
        text = text[:_LOGGED_REASON] + "…"
    return escape_for_log(text)


def _where(error: BaseException) -> str:
    """Where an unexpected error was raised (module and line): enough to find it, without the
    traceback and the message, either of which may hold request data."""
    tb = error.__traceback__
    if tb is None:
        return "?"
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} in {code.co_name}"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def parse_request(request_class: type[Message], raw: bytes) -> Message:
    """The request bytes as a message of the method's type, or INVALID_ARGUMENT: truncated or
    random bytes, invalid UTF-8, field number 0, nesting too deep. Fields the hub does not know
    are refused too, rather than half understood (an unknown filter would be ignored, an
    envelope's unknown fields stored and passed on)."""
    try:
        request = request_class.FromString(raw)
    except Exception:  # DecodeError, and whatever else bytes can make a parser raise
        raise InvalidArgument.field(
            "request", f"request is not a valid {request_class.DESCRIPTOR.full_name}"
        ) from None
    where = unknown_field(request)
    if where is not None:
        raise InvalidArgument.field(where or "request", "carries fields unknown to the hub")
    return request


def _status(error: EcxError) -> grpc.Status:
    code = status_code(error)
    details = []
    if isinstance(error, InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    return rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=error.message, details=details)
    )


_INTERNAL = rpc_status.to_status(
    status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message="internal error")
)


def _peer(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The presented certificate's object id, for counting refusals of a caller not (yet)
    authenticated."""
    pems = list(context.auth_context().get("x509_pem_cert", []))
    return peer_certificate(pems[0]) if len(pems) == 1 else "peer-certificate:none"


class _Call:
    """What the gate knows of one call as it goes: who, and the request once parsed."""

    def __init__(self, method: str, raw: bytes) -> None:
        self.method = method
        self.action = method.rsplit("/", 1)[-1]
        self.raw = raw
        self.started = time.perf_counter()
        self.caller: Caller | None = None
        self.request: Message | None = None

    @property
    def who(self) -> str:
        return self.caller.id if self.caller is not None else "-"

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


class RpcGate:
    """Wraps operations into gRPC handlers that authenticate, authorize, parse, map errors and
    log every refusal to the exchange log (or count it, in a flood)."""

    def __init__(
        self, authenticator: Authenticator, store: Store, clock: Clock, refusals: RefusalGuard
    ) -> None:
        self._auth = authenticator
        self._store = store
        self._clock = clock
        self.refusals = refusals

    def authenticate(self, context: grpc.aio.ServicerContext[Any, Any], action: str) -> Caller:
        """The caller, or a refusal counted against its certificate (never logged one by one);
        a certificate refused too often is answered RESOURCE_EXHAUSTED without further work."""
        try:
            return self._auth.caller(context.auth_context())
        except Unauthenticated:
            peer = _peer(context)
            if not self.refusals.admits(peer):
                self.refusals.count(UNAUTHENTICATED_ACTOR, peer, action, "RESOURCE_EXHAUSTED")
                raise ResourceExhausted(_TOO_MANY) from None
            self.refusals.refused_unauthenticated(peer, action, "UNAUTHENTICATED")
            raise

    def _begin(
        self, call: _Call, context: grpc.aio.ServicerContext[Any, Any], request_class: type[Message]
    ) -> Caller:
        caller = self.authenticate(context, call.action)
        call.caller = caller
        if not self.refusals.admits(caller.id):
            self.refusals.count(caller.id, "", call.action, "RESOURCE_EXHAUSTED")
            raise _Throttled()
        policy.authorize_rpc(caller, call.method)
        call.request = parse_request(request_class, call.raw)
        return caller

    async def _owners(self, call: _Call) -> tuple[str, tuple[str, ...]]:
        """The object id a refused call named, if well formed, and the participants it belongs
        to: the issuer of a denial, the two parties of a consultation, the originator of a
        notice. They see the attempt."""
        reference = getattr(call.request, "reference", "") if call.request is not None else ""
        service = call.method.split("/")[1].rsplit(".", 1)[-1]
        kind = _OBJECT_KINDS.get(service)
        # only a well-formed reference: the log keeps what it is given for good
        if not kind or not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
            return "", ()
        owners: Iterable[str] = ()
        try:
            if kind == "denial":
                owners = await self._store.denial_issuers(reference)
            elif kind == "notice":
                # the authorities of the state the reference names, whether or not it exists:
                # the log entry a caller reads back must not tell it which notices do
                owners = self._auth.authorities_of(reference[:2])
            else:
                found = await self._store.consultation_parties(reference)
                owners = found or ()
        except EcxError:
            owners = ()
        return f"{kind}:{reference}", tuple(sorted(set(owners)))

    async def _log_refusal(self, call: _Call, code: grpc.StatusCode) -> None:
        object_id, owners = await self._owners(call)
        who = call.who
        parties = tuple(p for p in owners if p != who)
        event = Event(
            time=self._clock.now(),
            actor=who if who != "-" else UNAUTHENTICATED_ACTOR,
            action=call.action,
            object_ids=(object_id,) if object_id else (),
            payload_sha256=hashlib.sha256(call.raw).digest(),
            outcome=code.name,
            parties=parties,
        )
        try:
            await self._store.record([event])
        except EcxError as e:
            log.error("%s: refusal not logged: %s", call.method, e.message)

    async def _fail(
        self, context: grpc.aio.ServicerContext[Any, Any], call: _Call, error: BaseException
    ) -> None:
        if isinstance(error, _Throttled):
            error = ResourceExhausted(_TOO_MANY)
            status = _status(error)
        elif isinstance(error, EcxError):
            status = _status(error)
            if call.caller is None:
                pass  # counted by `authenticate`, never logged one by one
            elif not isinstance(error, _CALLERS_FAULT) or self.refusals.take(call.caller.id):
                await self._log_refusal(call, status.code)
                log.info(
                    "%s caller=%s code=%s ms=%.1f reason=%s",
                    call.method,
                    call.who,
                    status.code.name,
                    call.elapsed_ms(),
                    _loggable(error.message),
                )
            else:
                self.refusals.count(call.caller.id, "", call.action, status.code.name)
        else:
            status = _INTERNAL
            log.error(
                "%s caller=%s code=INTERNAL ms=%.1f error=%s at %s",
                call.method,
                call.who,
                call.elapsed_ms(),
                type(error).__name__,
                _where(error),
            )
        await context.abort_with_status(status)

    async def _answered_before(self, call: _Call, response_class: type[Message]) -> Message | None:
        """The first answer to this request, if the caller already made it with its request id:
        a retry gets it even where the hub would now refuse the request (a day later, a denial
        date has passed its limit; the caller's signing key has been replaced)."""
        caller, request = call.caller, call.request
        if caller is None or request is None:
            return None
        request_id = getattr(request, "request_id", "")
        if not isinstance(request_id, str) or not request_id:
            return None
        try:
            found = await self._store.answered(caller.id, request_id)
        except Exception:  # whatever failed, the refusal stands; a retry may do better
            log.warning("%s caller=%s: earlier answer not looked up", call.method, caller.id)
            return None
        if found is None or found[0] != call.action:
            return None
        if found[1] != request_digest(call.action, request):
            return None
        return response_class.FromString(found[2])

    def unary(
        self,
        method: str,
        operation: Unary,
        request_class: type[Message],
        response_class: type[Message],
    ) -> Callable[..., Awaitable[Message]]:
        async def handler(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
            call = _Call(method, raw)
            try:
                caller = self._begin(call, context, request_class)
                response = await operation(caller, call.request)
            except Exception as e:
                if isinstance(e, CallerError | StateError) and not isinstance(e, ResourceExhausted):
                    earlier = await self._answered_before(call, response_class)
                    if earlier is not None:
                        log.debug("%s caller=%s code=OK (answered before)", method, call.who)
                        return earlier
                await self._fail(context, call, e)
                raise AssertionError("unreachable") from None
            log.debug("%s caller=%s code=OK ms=%.1f", method, call.who, call.elapsed_ms())
            return response

        return handler

    def stream(
        self, method: str, operation: Streaming, request_class: type[Message]
    ) -> Callable[..., AsyncIterator[Message | bytes]]:
        async def handler(
            raw: bytes, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Message | bytes]:
            call = _Call(method, raw)
            try:
                caller = self._begin(call, context, request_class)
                async for item in operation(caller, call.request):
                    yield item
            except Exception as e:
                await self._fail(context, call, e)
                return
            log.debug("%s caller=%s code=OK ms=%.1f", method, call.who, call.elapsed_ms())

        return handler

    def service(
        self, descriptor: ServiceDescriptor, implementation: object
    ) -> grpc.GenericRpcHandler:
        """Handlers for every method of a proto service, bound to implementation.snake_case_name.

        Requests arrive as bytes (no deserializer): the gate parses them once the caller is
        known. A method without an implementation, or missing from the policy table, stops
        start-up.
        """
        handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        for method in descriptor.methods:
            path = f"/{descriptor.full_name}/{method.name}"
            if path not in policy.RPC_ROLES:
                raise RuntimeError(f"{path} has no authorization policy")
            operation = getattr(implementation, _snake(method.name))
            request_class = message_factory.GetMessageClass(method.input_type)
            response_class = message_factory.GetMessageClass(method.output_type)
            if method.server_streaming:
                handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                    self.stream(path, operation, request_class),
                    response_serializer=_serialize,
                )
            else:
                handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                    self.unary(path, operation, request_class, response_class),
                    response_serializer=response_class.SerializeToString,
                )
        return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)


class _Throttled(Exception):
    """A caller whose refusals used up its bucket: answered RESOURCE_EXHAUSTED, only counted."""


class ForeignServiceGuard(grpc.aio.ServerInterceptor):
    """Health and reflection are grpcio's own servicers: their request bytes are parsed here, so
    that bytes that are not a valid message get INVALID_ARGUMENT and one short log line rather
    than UNKNOWN and a traceback. Health answers any certificate of the network CA (a load
    balancer's too, and it tells nothing but SERVING); reflection, which describes the whole API,
    needs a registered, active participant, like every ecx call."""

    def __init__(self, gate: RpcGate, authenticated_prefixes: tuple[str, ...]) -> None:
        self._gate = gate
        self._authenticated = authenticated_prefixes

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[_Request, _Response] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[_Request, _Response] | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith("/ecx."):
            return handler  # the gate's own (or none: UNIMPLEMENTED)
        return cast("grpc.RpcMethodHandler[_Request, _Response]", self._guarded(method, handler))

    def _guarded(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        parse = handler.request_deserializer
        authenticated = method.startswith(self._authenticated)
        gate = self._gate
        name = method.rsplit("/", 1)[-1]

        async def admit(context: grpc.aio.ServicerContext[Any, Any]) -> None:
            if not authenticated:
                return
            try:
                gate.authenticate(context, name)
            except EcxError as e:
                await context.abort_with_status(_status(e))

        async def parsed(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                return parse(raw) if parse is not None else raw
            except Exception:
                log.info("%s code=INVALID_ARGUMENT reason=request is not a valid message", method)
                await context.abort_with_status(
                    _status(InvalidArgument.field("request", "request is not a valid message"))
                )

        if handler.unary_unary is not None:
            behaviour: Any = handler.unary_unary

            async def unary_unary(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                await admit(context)
                return await behaviour(await parsed(raw, context), context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, response_serializer=handler.response_serializer
            )
        if handler.unary_stream is not None:
            streaming: Any = handler.unary_stream

            async def unary_stream(
                raw: bytes, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                await admit(context)
                async for item in streaming(await parsed(raw, context), context):
                    yield item

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, response_serializer=handler.response_serializer
            )
        if handler.stream_stream is not None:
            bidi: Any = handler.stream_stream

            async def stream_stream(
                requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                await admit(context)

                async def each() -> AsyncIterator[Any]:
                    async for raw in requests:
                        yield await parsed(raw, context)

                async for item in bidi(each(), context):
                    yield item

            return grpc.stream_stream_rpc_method_handler(
                stream_stream, response_serializer=handler.response_serializer
            )
        return handler
