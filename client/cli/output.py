"""How the CLI prints: JSON with --json, plain text otherwise."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from client.core.text import UNSEEN_IN_JSON, escape_text


def common_options() -> argparse.ArgumentParser:
    """Options every command also accepts after its verb (`ecx denial list --json`)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON"
    )
    return parent


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON writes characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def to_json(data: Any) -> str:
    """JSON as the terminal shows it: readable letters of every script, and the characters no
    reader can see (direction overrides, zero-width spaces) as JSON escapes of themselves."""
    return UNSEEN_IN_JSON.sub(_json_escape, json.dumps(data, indent=2, ensure_ascii=False))


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print JSON with --json, else the human text; what the hub sent is shown as it is, with
    control and invisible characters escaped (client.core.text)."""
    if args.json:
        print(to_json(data))
    elif text:
        print(escape_text(text))
