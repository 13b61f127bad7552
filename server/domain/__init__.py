"""The hub's domain core: rules and values, with no network or storage code."""
