"""Query: statements compiled once for asyncpg, parameters always named by the caller."""

from __future__ import annotations

from typing import cast

import pytest
from sqlalchemy import Table, bindparam, literal_column, update

from agents_core.db.database import Query
from agents_core.db.models import Agent

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


def test_the_postgresql_form_is_used_for_postgresql_only() -> None:
    generic = update(_AGENTS).where(_AGENTS.c.id == bindparam("agent_id")).values(voice=None)
    special = update(_AGENTS).where(_AGENTS.c.id == bindparam("agent_id")).values(voice="x")
    query = Query(generic, pg=special)
    assert query.statement_for("postgresql") is special
    assert query.statement_for("sqlite") is generic
