"""The hub's services, one module per gRPC service: decode, authorize, call the domain, store."""
