"""Rules: indexing (filled in below)."""
