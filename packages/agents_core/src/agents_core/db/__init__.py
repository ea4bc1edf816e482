"""The one database layer: schema metadata (models), :class:`Database` with its one pool,
:class:`Connection` (every read and write), :class:`Query` (statements defined once), portable
types and constructs, row shapes, and driver errors turned into domain errors."""

from agents_core.db.connection import Connection
from agents_core.db.database import Database, PoolStatus
from agents_core.db.query import Query, insert_into, new_values
from agents_core.db.rows import Repository, RowShape, Violations

__all__ = [
    "Connection",
    "Database",
    "PoolStatus",
    "Query",
    "Repository",
    "RowShape",
    "Violations",
    "insert_into",
    "new_values",
]
