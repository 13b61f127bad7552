"""Sealed positions: one spelling per reader, listing and position, none that a command line
would take for an option, and nothing else opens."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from server.errors import InvalidArgument
from server.services.paging import (
    CONSULTATION_PAGE,
    DENIAL_CHANGES,
    DENIAL_PAGE,
    LOG_PAGE,
    PositionTokens,
    TokenKind,
)

TOKENS = PositionTokens.from_log_key(ed25519.Ed25519PrivateKey.from_private_bytes(b"k" * 32))
KINDS = [DENIAL_PAGE, CONSULTATION_PAGE, LOG_PAGE, DENIAL_CHANGES]


def test_no_token_starts_like_a_command_line_option() -> None:
    starts = {
        TOKENS.seal(kind, reader, position)[0]
        for kind in KINDS
        for reader in ("nl", "de", "commission")
        for position in range(2000)
    }
    assert not starts & {"-", "_"}


@given(
    st.sampled_from(KINDS),
    st.text(min_size=1, max_size=20),
    st.integers(0, 2**63 - 1),
)
def test_a_token_opens_for_its_reader_and_kind_only(
    kind: TokenKind, reader: str, position: int
) -> None:
    token = TOKENS.seal(kind, reader, position)
    assert len(token) == 48
    assert TOKENS.seal(kind, reader, position) == token
    assert TOKENS.open(kind, reader, token, first=-1) == position
    for other in KINDS:
        if other != kind:
            with pytest.raises(InvalidArgument):
                TOKENS.open(other, reader, token, first=-1)
    with pytest.raises(InvalidArgument):
        TOKENS.open(kind, reader + "x", token, first=-1)


def test_another_log_key_opens_none_of_them() -> None:
    other = PositionTokens.from_log_key(ed25519.Ed25519PrivateKey.from_private_bytes(b"j" * 32))
    token = TOKENS.seal(DENIAL_CHANGES, "nl", 7)
    with pytest.raises(InvalidArgument):
        other.open(DENIAL_CHANGES, "nl", token, first=0)


@pytest.mark.parametrize("position", [-1, 2**63])
def test_only_row_ids_are_sealed(position: int) -> None:
    with pytest.raises(ValueError, match="not a row id"):
        TOKENS.seal(DENIAL_PAGE, "nl", position)
