"""What a voice-agent worker embeds: agent definitions and handoff graphs, cached in process and
kept fresh by the agent change feed. No web framework needed::

    async with AgentCatalog.open("postgresql://…") as catalog:
        graph = await catalog.graph(organization_id, triage_agent_id)
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
