"""Tooling for the certificates of a local ecx network (see ``certs/README.md``)."""
