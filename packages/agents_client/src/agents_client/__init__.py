"""Typed Python SDK for the voice-agents API: :class:`AgentsClient` (blocking) and
:class:`AsyncAgentsClient` (async), with the same resources, returning the wire types of
:mod:`agents_core.schemas` (re-exported here for convenience: they are the same classes), and
raising the exceptions of :mod:`agents_client.errors` (re-exported too)."""

from agents_client import errors
from agents_client.client import AgentsClient, AsyncAgentsClient
from agents_client.endpoints import operations
from agents_client.errors import *  # noqa: F403 - the SDK's exceptions, listed in errors.__all__
from agents_client.spec import Page, RequestSpec, Route
from agents_core import schemas
from agents_core.schemas import *  # noqa: F403 - the wire types, listed in schemas.__all__

__all__ = [
    "AgentsClient",
    "AsyncAgentsClient",
    "Page",
    "RequestSpec",
    "Route",
    "operations",
    *errors.__all__,
    *schemas.__all__,
]
