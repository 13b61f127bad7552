"""Party-name matching for the "essentially identical transaction" check (DOMAIN.md §4).

Before granting a licence an authority must find every denial in force to the same consignee or
end-user, and the same party reaches the exchange spelt by different hands: transliterated under
different schemes, with or without its legal form, abbreviated, reordered, mistyped. A name is
turned into a `NameKey` once (`keys`), and two keys compare into a scored, explained `NameMatch`
(`matching`). It only proposes candidates; a person decides. The hub and a national mirror screen
with this same code.

Pure: no I/O, no clock; only rapidfuzz and anyascii besides the standard library.
"""

from client.core.names.keys import (
    NameKey,
    NameToken,
    PlainKey,
    PlainToken,
    index_tokens,
    name_key,
    query_tokens,
)
from client.core.names.lexicon import Tier
from client.core.names.matching import (
    DEFAULT_THRESHOLD,
    MATCH_FLOOR,
    NameMatch,
    comparison_cost,
    match_names,
    match_with_aliases,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "MATCH_FLOOR",
    "NameKey",
    "NameMatch",
    "NameToken",
    "PlainKey",
    "PlainToken",
    "Tier",
    "comparison_cost",
    "index_tokens",
    "match_names",
    "match_with_aliases",
    "name_key",
    "query_tokens",
]
