"""Wire-type data for tests, from polyfactory factories: valid by construction, random where
the value does not matter (a test that cares about a field sets it)."""

from __future__ import annotations

import secrets

from polyfactory import Use
from polyfactory.factories.msgspec_factory import MsgspecFactory

from agents_core.schemas import AgentCreate, AgentExport, SignupRequest


def agent_name() -> str:
    return f"Agent {secrets.token_hex(4)}"


class AgentCreateFactory(MsgspecFactory[AgentCreate]):
    """A new agent: a unique name and short instructions; every other member at its default."""

    __use_defaults__ = True
    name = Use(agent_name)
    instructions = Use(lambda: "You are a helpful voice agent. Answer briefly.")


class AgentExportFactory(MsgspecFactory[AgentExport]):
    __use_defaults__ = True
    name = Use(agent_name)
    instructions = Use(lambda: "You are a helpful voice agent. Answer briefly.")


class SignupFactory(MsgspecFactory[SignupRequest]):
    __use_defaults__ = True
    organization_name = Use(lambda: f"Org {secrets.token_hex(3)}")
    email = Use(lambda: f"admin-{secrets.token_hex(6)}@example.com")
    password = Use(lambda: "correct horse battery")
