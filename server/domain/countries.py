"""ISO 3166-1 alpha-2 codes, with the EU's `EL` for Greece accepted and stored as `GR`."""

from __future__ import annotations

import functools

import pycountry

# EU usage differs from ISO for Greece (EL) and historically the UK (UK).
_EU_ALIASES = {"EL": "GR", "UK": "GB"}
# User-assigned code widely used for Kosovo in EU documents.
_EXTRA_CODES = frozenset({"XK"})


@functools.cache
def _iso_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def normalize_country(code: str) -> str | None:
    """The stored ISO code for `code`, or None if it is not a country code."""
    if len(code) != 2 or not code.isascii() or not code.isupper():
        return None
    code = _EU_ALIASES.get(code, code)
    if code in _iso_codes() or code in _EXTRA_CODES:
        return code
    return None
