"""Characters a reader cannot see: refused where they could disguise a name or an identifier,
escaped wherever text reaches a terminal or a log line.

Control characters end lines and move terminal cursors; Unicode format characters are invisible
(zero-width space, byte-order mark, soft hyphen, tags) or turn the direction of what follows
(U+202E RIGHT-TO-LEFT OVERRIDE, the isolates U+2066-U+2069), so that "ACME" and "AC\u200bME", or
a reference and its mirror image, look alike. The zero-width non-joiner and joiner (U+200C,
U+200D) stay allowed: Persian and Indic names need them, and they change no direction.
"""

from __future__ import annotations

import re

# Unicode general category Cf (format), less U+200C and U+200D; with the line and paragraph
# separators (Zl, Zp).
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
# Those no prose needs: direction overrides and isolates, separators, invisible spaces, tags.
# (Right-to-left writers use the marks U+200E, U+200F and U+061C, and soft hyphens, in text.)
_HIDING = "\u200b\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\U000e0001\U000e0020-\U000e007f"
_C0_C1 = "\x00-\x1f\x7f-\x9f"

# Refused in names, identifiers and one-line fields.
LINE_UNSAFE = re.compile(f"[{_C0_C1}{_FORMAT}]")
# Refused in free text that may span lines (tab and newline allowed).
TEXT_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_HIDING}]")
# What JSON leaves as it is (it escapes C0 itself) and no reader can see.
UNSEEN_IN_JSON = re.compile(f"[\x7f-\x9f{_FORMAT}]")
# Escaped on output: what LINE_UNSAFE refuses, newline and tab included.
_ESCAPED = LINE_UNSAFE
_ESCAPED_KEEPING_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def escape_line(text: str) -> str:
    """One line as a terminal or a log shows it safely: every control and invisible character
    as an escape (\\x0a, \\u202e), so that what is printed is what was there."""
    return _ESCAPED.sub(_escape, text)


def escape_text(text: str) -> str:
    """Text that may span lines, printed safely: newlines and tabs kept, the rest escaped."""
    return _ESCAPED_KEEPING_LINES.sub(_escape, text)
