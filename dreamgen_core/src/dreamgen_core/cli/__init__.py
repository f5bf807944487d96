"""The `dreamgen` command line: thin commands over dreamgen_core objects."""
