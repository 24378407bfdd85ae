"""Rules: linalg (filled in below)."""
