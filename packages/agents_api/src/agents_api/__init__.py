"""agents_api."""
