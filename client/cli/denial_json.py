"""The JSON the CLI reads and prints: protobuf JSON with the exchange's fixed field names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from client.core.chain import denial_link, denial_statement, statement_sha256
from client.errors import EcxClientError
from ecx.v1 import denial_pb2

_INT64_FIELDS = {"value_eur", "log_index"}


M = TypeVar("M", bound=Message)


def load_payload(path: Path) -> denial_pb2.DenialPayload:
    """Read a DenialPayload from a protobuf-JSON file (field names as in the exchange's spec)."""
    return load_json(path, denial_pb2.DenialPayload())


def load_json(path: Path, message: M) -> M:
    """Read a protobuf-JSON file into `message`; a one-line error names what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise EcxClientError(f"cannot read {path}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise EcxClientError(f"{path}: not UTF-8 text") from e
    except json.JSONDecodeError as e:
        raise EcxClientError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from e
    try:
        return json_format.ParseDict(data, message)
    except json_format.ParseError as e:
        # The parser's first line names the field; the rest lists fields in another spelling.
        raise EcxClientError(f"{path}: {str(e).splitlines()[0]}") from e


def to_dict(message: Message, *, every_field: bool = False) -> dict[str, Any]:
    """Plain JSON: proto field names, enum names, integers as numbers; `every_field` also
    prints fields at their default (a log index of 0, an empty reason)."""
    data: dict[str, Any] = _ints(
        json_format.MessageToDict(
            message,
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=every_field,
        )
    )
    return data


def _ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: int(v) if k in _INT64_FIELDS and isinstance(v, str) else _ints(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def denial_view(
    denial: denial_pb2.Denial, payload: denial_pb2.DenialPayload | None
) -> dict[str, Any]:
    """A denial as the CLI shows it: the hub's record plus the verified payload, no raw bytes."""
    record = to_dict(denial, every_field=True)
    record.pop("envelope", None)
    record.pop("change_envelope", None)
    # The chain: the digest of this version's signed statement (the log entry's payload digest)
    # and of the one it follows, instead of the statement's link inside the payload.
    record["statement_sha256"] = statement_sha256(denial_statement(denial)).hex()
    link = denial_link(denial)
    record["previous_statement_sha256"] = link.previous_sha256.hex() if link else ""
    if payload is not None:
        shown = denial_pb2.DenialPayload()
        shown.CopyFrom(payload)
        shown.ClearField("link")
        record["payload"] = to_dict(shown)
        record["signature_verified"] = True
    return record
