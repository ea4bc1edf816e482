"""Environments: named pointers at releases, with a canary and a history of moves."""
