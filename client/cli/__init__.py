"""`ecx`: the command line, one module per noun, over the public client API."""

from client.cli.main import main

__all__ = ["main"]
