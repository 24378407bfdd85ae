"""Rules: builtin_math (filled in below)."""
