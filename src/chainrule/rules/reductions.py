"""Rules: reductions (filled in below)."""
