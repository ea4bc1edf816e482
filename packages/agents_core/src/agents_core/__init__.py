"""agents_core."""
