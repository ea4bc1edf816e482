"""What a voice-agent worker embeds: agent definitions and handoff graphs, cached in process and
kept fresh by the change feed. No web framework needed. Calls are served through an
environment, from the release it points at::

    async with AgentCatalog.open("postgresql://…") as catalog:
        graph = await catalog.graph(org_id, triage_id, environment="production", call_id=call)
        agent = await catalog.resolve(org_id, agent_id, environment="production", call_id=call)

(``get`` and ``graph`` without an environment serve the working configuration.)
"""

from agents_core.runtime.catalog import AgentCatalog, CatalogStats, ChangeStream
from agents_core.runtime.definitions import AgentDefinition, AgentGraph, CatalogChange, Handoff

__all__ = [
    "AgentCatalog",
    "AgentDefinition",
    "AgentGraph",
    "CatalogChange",
    "CatalogStats",
    "ChangeStream",
    "Handoff",
]
