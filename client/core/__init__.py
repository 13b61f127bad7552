"""Pure code both sides run: envelopes, Merkle proofs, checkpoints, name matching."""
