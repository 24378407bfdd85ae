"""chainrule's version: in the header of generated code, in cache keys, in `--version`."""

__version__ = "0.1.0"
