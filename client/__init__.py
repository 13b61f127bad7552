"""ecx client library: talk to the hub, sign and verify payloads.

The hub imports its envelope and proof verification too, so both sides check the same way.
"""
