"""Releases: immutable sets of agents pinned at versions, closed under handoff."""
