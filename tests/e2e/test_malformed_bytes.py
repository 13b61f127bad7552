"""Bytes that are not a valid request, sent to every RPC: each gets INVALID_ARGUMENT naming the
message type, one short line in the hub's log (never a traceback), and an entry in the exchange
log like any other refusal. A caller the hub cannot authenticate is refused before its bytes are
read. Health parses the same way; reflection needs a registered, active participant."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ecx.v1 import audit_pb2
from server.app import SERVICES
from tests.helpers import RunningHub

METHODS = [
    (f"/{service.full_name}/{method.name}", method.server_streaming, method.input_type.full_name)
    for service in SERVICES
    for method in service.methods
]


def _deep_groups(depth: int) -> bytes:
    """Nested start-group tags of a field number no ecx message uses (99), never closed."""
    return b"\x9b\x06" * depth


# Bytes that no request type can parse (each for its own reason).
MALFORMED = {
    "truncated-varint": b"\x08\xff\xff\xff",
    "truncated-length": b"\x0a\x40abc",
    "field-number-0": b"\x00\x01",
    "invalid-utf8": b"\x0a\x02\xc3\x28",
    "deep-unknown-groups": _deep_groups(200),
    "random": bytes.fromhex("d7c1e9a2ff00137a9e"),
}


def _channel(hub: RunningHub, name: str) -> grpc.aio.Channel:
    identity = hub.identity(name)
    credentials = grpc.ssl_channel_credentials(identity.ca_pem, identity.key_pem, identity.cert_pem)
    return grpc.aio.secure_channel(hub.address, credentials)


@pytest.fixture
async def nl_channel(hub: RunningHub) -> AsyncIterator[grpc.aio.Channel]:
    async with _channel(hub, "nl") as channel:
        yield channel


async def raw_call(
    channel: grpc.aio.Channel, path: str, streaming: bool, body: bytes
) -> grpc.aio.AioRpcError:
    """Send `body` as the request of `path`, unparsed, and return the refusal."""
    try:
        if streaming:
            call = channel.unary_stream(path)(body, timeout=10)
            async for _ in call:
                pass
        else:
            await channel.unary_unary(path)(body, timeout=10)
    except grpc.aio.AioRpcError as e:
        return e
    pytest.fail(f"{path} accepted {body!r}")


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("name", list(MALFORMED))
@pytest.mark.parametrize(("path", "streaming", "kind"), METHODS, ids=[m[0] for m in METHODS])
async def test_bytes_that_are_no_request_get_invalid_argument(
    hub: RunningHub,
    nl_channel: grpc.aio.Channel,
    caplog: pytest.LogCaptureFixture,
    path: str,
    streaming: bool,
    kind: str,
    name: str,
) -> None:
    refused = await raw_call(nl_channel, path, streaming, MALFORMED[name])
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.details()
    # (bytes that happen to parse, as fields the type does not have, are refused as such)
    assert refused.details() in (
        f"invalid argument: request: request is not a valid {kind}",
        "invalid argument: request: carries fields unknown to the hub",
    )
    lines = [r for r in caplog.records if path in r.getMessage()]
    assert len(lines) == 1
    assert "code=INVALID_ARGUMENT" in lines[0].getMessage()


async def test_a_malformed_request_is_an_exchange_event_like_any_refusal(
    hub: RunningHub, nl_channel: grpc.aio.Channel
) -> None:
    await raw_call(nl_channel, "/ecx.v1.DenialService/GetDenial", False, MALFORMED["random"])
    async with hub.client("auditor") as auditor:
        entries = [
            audit_pb2.LogEntry.FromString(e.entry)
            async for e in auditor.audit.query(audit_pb2.QueryLogRequest(action="GetDenial"))
        ]
    assert [(e.actor, e.outcome) for e in entries] == [("nl", "INVALID_ARGUMENT")]


@pytest.mark.parametrize("name", ["revoked", "stranger"])
async def test_an_unauthenticated_caller_is_refused_before_its_bytes_are_read(
    hub: RunningHub, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    async with _channel(hub, name) as channel:
        for path, streaming, _ in METHODS:
            refused = await raw_call(channel, path, streaming, MALFORMED["deep-unknown-groups"])
            assert refused.code() == grpc.StatusCode.UNAUTHENTICATED, path
    assert "not a valid" not in caplog.text


async def test_health_parses_its_request_and_answers_after(
    hub: RunningHub, nl_channel: grpc.aio.Channel
) -> None:
    path = "/grpc.health.v1.Health/Check"
    for body in MALFORMED.values():
        refused = await raw_call(nl_channel, path, False, body)
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    response = await health_pb2_grpc.HealthStub(nl_channel).Check(health_pb2.HealthCheckRequest())
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_answers_a_revoked_certificate_of_the_network(hub: RunningHub) -> None:
    """Health stays open to any certificate the network CA issued, for load balancers: it tells
    nothing but SERVING."""
    async with _channel(hub, "revoked") as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def _list_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names: set[str] = set()
    async for response in stub.ServerReflectionInfo(iter([request])):
        names |= {s.name for s in response.list_services_response.service}
    return names


@pytest.mark.parametrize("name", ["revoked", "stranger"])
async def test_reflection_needs_an_active_participant(hub: RunningHub, name: str) -> None:
    async with _channel(hub, name) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _list_services(channel)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_reflection_serves_a_participant_and_parses_its_requests(
    hub: RunningHub, nl_channel: grpc.aio.Channel
) -> None:
    assert "ecx.v1.DenialService" in await _list_services(nl_channel)
    path = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    call = nl_channel.stream_stream(path)(iter([MALFORMED["truncated-length"]]), timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call:
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
