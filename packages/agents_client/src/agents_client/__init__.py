"""agents_client."""
