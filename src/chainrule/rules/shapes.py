"""Rules: shapes (filled in below)."""
