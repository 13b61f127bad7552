"""ecx hub: the gRPC service through which export-control authorities exchange notifications."""
