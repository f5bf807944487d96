"""dreamgen_core."""
