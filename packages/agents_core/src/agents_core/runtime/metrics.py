"""Prometheus metrics of an :class:`~agents_core.runtime.AgentCatalog`, for the worker that
embeds it. Needs ``prometheus-client`` (the ``agents-core[metrics]`` extra); nothing else in
``agents_core`` imports this module, so a worker that does not want it does not load it::

    from prometheus_client import start_http_server
    from agents_core.runtime.metrics import register_catalog_metrics

    async with AgentCatalog.open(url) as catalog:
        register_catalog_metrics(catalog)  # into prometheus_client's default registry
        start_http_server(9100)

The values are read from :attr:`AgentCatalog.stats` at each scrape: nothing is added to the
catalog's lookups.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agents_core.runtime.catalog import AgentCatalog

__all__ = ["CatalogCollector", "register_catalog_metrics"]


class CatalogCollector(Collector):
    """Exports one catalog's :class:`~agents_core.runtime.CatalogStats`.

    ``labels`` (e.g. ``{"catalog": "production"}``) tell apart several catalogs of one worker.
    """

    def __init__(self, catalog: AgentCatalog, labels: Mapping[str, str] | None = None) -> None:
        self._catalog = catalog
        self._labels = dict(labels or {})

    def collect(self) -> Iterator[Metric]:
        stats = self._catalog.stats
        names = list(self._labels)
        values = list(self._labels.values())
        for kind, name, documentation, value in (
            (CounterMetricFamily, "hits", "Lookups answered from the cache", stats.hits),
            (CounterMetricFamily, "misses", "Lookups that read the database", stats.misses),
            (
                CounterMetricFamily,
                "changes",
                "Change notices (or polled events) applied: entries they named were evicted",
                stats.changes,
            ),
            (
                CounterMetricFamily,
                "resets",
                "Times the whole cache was dropped after the change feed was lost and found again",
                stats.resets,
            ),
            (
                CounterMetricFamily,
                "evictions",
                "Entries dropped from the cache, for a change or to make room",
                stats.evictions,
            ),
            (GaugeMetricFamily, "entries", "Entries in the cache", stats.entries),
            (
                GaugeMetricFamily,
                "listening",
                "1 while the change feed is followed and the cache is used; 0 while every "
                "lookup reads the database (the feed is lost, or the catalog is not started)",
                1 if stats.listening else 0,
            ),
            (
                GaugeMetricFamily,
                "unfollowed_seconds",
                "Seconds since the change feed was lost (0 while it is followed): staleness risk",
                stats.unfollowed_seconds,
            ),
        ):
            family = kind(f"agents_catalog_{name}", documentation, labels=names)
            family.add_metric(values, value)
            yield family


def register_catalog_metrics(
    catalog: AgentCatalog,
    registry: CollectorRegistry = REGISTRY,
    labels: Mapping[str, str] | None = None,
) -> CatalogCollector:
    """Export ``catalog``'s metrics into ``registry`` (prometheus_client's default one unless
    given); returns the collector (``registry.unregister(collector)`` removes it)."""
    collector = CatalogCollector(catalog, labels)
    registry.register(collector)
    return collector
