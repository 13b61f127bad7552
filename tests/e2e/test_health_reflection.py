"""Standard health checking and server reflection are served, over the same mutual TLS."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.helpers import RunningHub


def _channel(hub: RunningHub, name: str) -> grpc.aio.Channel:
    identity = hub.identity(name)
    credentials = grpc.ssl_channel_credentials(identity.ca_pem, identity.key_pem, identity.cert_pem)
    return grpc.aio.secure_channel(hub.address, credentials)


@pytest.mark.parametrize("service", ["", "ecx.v1.DenialService", "ecx.v1.ParticipantService"])
async def test_health_serving(hub: RunningHub, service: str) -> None:
    async with _channel(hub, "operator") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_unknown_service_is_not_found(hub: RunningHub) -> None:
    async with _channel(hub, "operator") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Check(health_pb2.HealthCheckRequest(service="ecx.v1.Nothing"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_services(hub: RunningHub) -> None:
    async with _channel(hub, "auditor") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        names = set()
        async for response in stub.ServerReflectionInfo(iter([request])):
            names |= {s.name for s in response.list_services_response.service}
    assert {"ecx.v1.DenialService", "ecx.v1.ParticipantService", "grpc.health.v1.Health"} <= names


async def test_health_needs_a_network_certificate(hub: RunningHub) -> None:
    identity = hub.identity("nl")
    credentials = grpc.ssl_channel_credentials(identity.ca_pem)
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
