"""The seam between gRPC and the hub: identity, the authorization policy and error mapping.

Every ecx RPC goes through `_unary` or `_stream` below: the caller is derived from the client
certificate, the policy decides, the operation runs, and any error becomes a status with details.
Operations never see a ServicerContext.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from server import policy
from server.clock import Clock
from server.domain.denials import LINE_CONTROL_CHARS, REFERENCE, unknown_field
from server.domain.exchange_log import UNAUTHENTICATED_ACTOR, Event
from server.domain.participants import Caller
from server.errors import CallerError, EcxError, InvalidArgument, StateError, status_code
from server.identity import Authenticator
from server.services.denials import request_digest
from server.store import Store

log = logging.getLogger("ecx.rpc")

Unary = Callable[[Caller, Any], Awaitable[Message]]
Streaming = Callable[[Caller, Any], AsyncIterator[Message | bytes]]


def _serialize(response: Message | bytes) -> bytes:
    """Streams may yield messages, or bytes already serialized as the response type."""
    return response if isinstance(response, bytes) else response.SerializeToString()


# What the `reference` field of a request names, per service, for the log of a refused call.
_OBJECT_KINDS = {"DenialService": "denial", "ConsultationService": "consultation"}


# What of a refusal's reason reaches the hub's log: its text holds what the caller sent (a
# reference, a field name), so control characters are escaped and its length bounded.
_LOGGED_REASON = 300


def _loggable(text: str) -> str:
    if len(text) > _LOGGED_REASON:
        text = text[:_LOGGED_REASON] + "…"
    return LINE_CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


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


def _refuse_unknown_fields(request: Message) -> None:
    """A request with fields this hub does not know is refused rather than half understood: an
    unknown filter would be ignored, an envelope's unknown fields stored and passed on."""
    where = unknown_field(request)
    if where is not None:
        raise InvalidArgument.field(where or "request", "carries fields unknown to the hub")


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


class RpcGate:
    """Wraps operations into gRPC handlers that authenticate, authorize, map errors and log
    every refusal to the exchange log."""

    def __init__(self, authenticator: Authenticator, store: Store, clock: Clock) -> None:
        self._auth = authenticator
        self._store = store
        self._clock = clock

    async def _log_refusal(
        self, method: str, who: str, request: Message, code: grpc.StatusCode
    ) -> None:
        reference = getattr(request, "reference", "")
        service = method.split("/")[1].rsplit(".", 1)[-1]
        kind = _OBJECT_KINDS.get(service)
        event = Event(
            time=self._clock.now(),
            actor=who if who != "-" else UNAUTHENTICATED_ACTOR,
            action=method.rsplit("/", 1)[-1],
            # only a well-formed reference: the log keeps what it is given for good
            object_ids=(f"{kind}:{reference}",)
            if kind and isinstance(reference, str) and REFERENCE.fullmatch(reference)
            else (),
            payload_sha256=hashlib.sha256(request.SerializeToString(deterministic=True)).digest(),
            outcome=code.name,
        )
        try:
            await self._store.record([event])
        except EcxError as e:
            log.error("%s: refusal not logged: %s", method, e.message)

    def _caller(self, context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
        return self._auth.caller(context.auth_context())

    async def _fail(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        method: str,
        who: str,
        request: Message,
        error: BaseException,
        started: float,
    ) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        if isinstance(error, EcxError):
            status = _status(error)
            await self._log_refusal(method, who, request, status.code)
            log.info(
                "%s caller=%s code=%s ms=%.1f reason=%s",
                method,
                who,
                status.code.name,
                elapsed,
                _loggable(error.message),
            )
        else:
            status = _INTERNAL
            log.error(
                "%s caller=%s code=INTERNAL ms=%.1f error=%s at %s",
                method,
                who,
                elapsed,
                type(error).__name__,
                _where(error),
            )
        await context.abort_with_status(status)

    async def _answered_before(
        self, caller: Caller, method: str, request: Message, response_class: type[Message]
    ) -> Message | None:
        """The first answer to this request, if the caller already made it with its request id:
        a retry gets it even where the hub would now refuse the request (a day later, a denial
        date has passed its limit; the caller's signing key has been replaced)."""
        request_id = getattr(request, "request_id", "")
        if not isinstance(request_id, str) or not request_id:
            return None
        try:
            found = await self._store.answered(caller.id, request_id)
        except Exception:  # whatever failed, the refusal stands; a retry may do better
            log.warning("%s caller=%s: earlier answer not looked up", method, caller.id)
            return None
        name = method.rsplit("/", 1)[-1]
        if found is None or found[0] != name or found[1] != request_digest(name, request):
            return None
        return response_class.FromString(found[2])

    def unary(
        self, method: str, operation: Unary, response_class: type[Message] | None = None
    ) -> Callable[..., Awaitable[Message]]:
        async def handler(request: Message, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
            started = time.perf_counter()
            who = "-"
            caller: Caller | None = None
            try:
                caller = self._caller(context)
                who = caller.id
                policy.authorize_rpc(caller, method)
                _refuse_unknown_fields(request)
                response = await operation(caller, request)
            except Exception as e:
                if (
                    caller is not None
                    and response_class is not None
                    and isinstance(e, CallerError | StateError)
                ):
                    earlier = await self._answered_before(caller, method, request, response_class)
                    if earlier is not None:
                        log.debug("%s caller=%s code=OK (answered before)", method, who)
                        return earlier
                await self._fail(context, method, who, request, e, started)
                raise AssertionError("unreachable") from None
            log.debug(
                "%s caller=%s code=OK ms=%.1f", method, who, (time.perf_counter() - started) * 1000
            )
            return response

        return handler

    def stream(
        self, method: str, operation: Streaming
    ) -> Callable[..., AsyncIterator[Message | bytes]]:
        async def handler(
            request: Message, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Message | bytes]:
            started = time.perf_counter()
            who = "-"
            try:
                caller = self._caller(context)
                who = caller.id
                policy.authorize_rpc(caller, method)
                _refuse_unknown_fields(request)
                async for item in operation(caller, request):
                    yield item
            except Exception as e:
                await self._fail(context, method, who, request, e, started)
                return
            log.debug(
                "%s caller=%s code=OK ms=%.1f", method, who, (time.perf_counter() - started) * 1000
            )

        return handler

    def service(
        self, descriptor: ServiceDescriptor, implementation: object
    ) -> grpc.GenericRpcHandler:
        """Handlers for every method of a proto service, bound to implementation.snake_case_name.

        A method without an implementation, or missing from the policy table, stops start-up.
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
                    self.stream(path, operation),
                    request_deserializer=request_class.FromString,
                    response_serializer=_serialize,
                )
            else:
                handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                    self.unary(path, operation, response_class),
                    request_deserializer=request_class.FromString,
                    response_serializer=response_class.SerializeToString,
                )
        return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)
