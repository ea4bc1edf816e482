"""The agent change feed: every write records an event in its own transaction."""
