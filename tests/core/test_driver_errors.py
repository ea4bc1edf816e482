"""Driver failures as the domain sees them, and which of them leave a connection unusable."""

from __future__ import annotations

import asyncpg

from agents_core.db.driver_errors import domain_error, spoils_connection
from agents_core.errors import DatabaseUnavailable


def test_a_driver_that_lost_track_of_its_connection_is_unavailable_and_spoils_it() -> None:
    # What asyncpg raises on the next statement when the server ended a pooled connection.
    lost = asyncpg.InternalClientError(
        "cannot switch to state 11; another operation is in progress"
    )
    assert isinstance(domain_error(lost), DatabaseUnavailable)
    assert spoils_connection(lost)


def test_timeouts_on_our_side_spoil_the_connection_but_server_errors_do_not() -> None:
    assert spoils_connection(TimeoutError())
    assert spoils_connection(ConnectionResetError())
    refused = asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout")
    assert isinstance(domain_error(refused), DatabaseUnavailable)
    assert not spoils_connection(refused)  # the server answered: the connection is fine
