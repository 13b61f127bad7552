"""Encryption keys the hub publishes: the statement must be the caller's, of a known suite, with
a key that can be sealed to, named by its id, and valid from tomorrow for at most a few years
(so that a participant rotates its keys and a lost key does not stay current for long)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from client.core.published_keys import KeyStatement, KeyStatementError
from server.domain.denials import add_years
from server.errors import InvalidArgument

# [assumed] How far ahead a key's not_after may lie, like a denial's validity period.
DEFAULT_MAX_VALIDITY_YEARS = 3


@dataclass(frozen=True)
class KeyRules:
    max_validity_years: int = DEFAULT_MAX_VALIDITY_YEARS


def publishable_statement(
    payload: bytes, caller: str, today: dt.date, rules: KeyRules
) -> KeyStatement:
    """The statement in a verified envelope's payload, if the hub may publish it for the
    caller; InvalidArgument naming the field otherwise."""
    try:
        statement = KeyStatement.from_payload(payload, trial=True)
    except KeyStatementError as e:
        raise InvalidArgument.field(e.field, e.reason) from e
    if statement.participant != caller:
        raise InvalidArgument.field("participant", f"must be the caller, {caller}")
    if statement.not_after <= today:
        raise InvalidArgument.field("not_after", f"must be after today ({today})")
    latest = add_years(today, rules.max_validity_years)
    if statement.not_after > latest:
        raise InvalidArgument.field(
            "not_after", f"at most {rules.max_validity_years} years ahead ({latest})"
        )
    return statement
