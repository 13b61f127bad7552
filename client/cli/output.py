"""How the CLI prints: JSON with --json, plain text otherwise."""

from __future__ import annotations

import argparse
import json
from typing import Any


def common_options() -> argparse.ArgumentParser:
    """Options every command also accepts after its verb (`ecx denial list --json`)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON"
    )
    return parent


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print JSON with --json, else the human text."""
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif text:
        print(text)
