"""Query: statements compiled once for asyncpg, parameters always named by the caller."""

from __future__ import annotations

from typing import cast

import pytest
from sqlalchemy import Table, bindparam, literal_column, select, update
from sqlalchemy.dialects import sqlite

from agents_core.db import Query
from agents_core.db.models import Agent
from agents_core.db.types import AnyOf

_AGENTS = cast(Table, Agent.__table__)


def test_parameters_come_in_the_order_of_the_sql() -> None:
    query = Query(
        update(_AGENTS)
        .where(_AGENTS.c.id == bindparam("agent_id"))
        .values(
            voice=bindparam("voice"),
            is_active=literal_column("false"),
            # Set by hand: the model's Python-side onupdate would otherwise be a fixed value.
            updated_at=bindparam("now"),
        )
    )
    sql, order = query.pg()
    assert order == ("voice", "now", "agent_id")
    assert "$3" in sql
    assert "is_active=false" in sql


def test_a_fixed_python_value_is_refused_at_first_compile() -> None:
    """``values(is_active=False)`` would become a parameter nobody passes (a KeyError at run
    time, on PostgreSQL only): the compile says what to write instead."""
    query = Query(
        update(_AGENTS)
        .where(_AGENTS.c.id == bindparam("agent_id"))
        .values(is_active=False, updated_at=bindparam("now"))
    )
    with pytest.raises(ValueError, match="literal_column"):
        query.pg()


def test_a_list_parameter_is_one_array_on_postgresql_and_expands_on_sqlite() -> None:
    """One statement, two spellings: ``= ANY($1::UUID[])`` takes a list of any length as one
    parameter; SQLite gets an ``IN`` with one placeholder per element."""
    statement = select(_AGENTS.c.id).where(AnyOf(_AGENTS.c.id, "ids"))
    sql, order = Query(statement).pg()
    assert order == ("ids",)
    assert "= ANY($1::UUID[])" in sql
    compiled = str(statement.compile(dialect=sqlite.dialect()))
    assert "IN (__[POSTCOMPILE_ids])" in compiled  # one placeholder per element, at run time
    assert "ANY" not in compiled
