"""``driftline export``: Prometheus rules and Grafana provisioning for the SDK's metrics.

Prometheus (:mod:`~driftline.alerts.export.prometheus`): recording rules and
alerting rules over the metrics of :mod:`driftline.sdk.metrics`, plus a
``promtool test rules`` file. Grafana (:mod:`~driftline.alerts.export.grafana`):
a datasource file with a fixed uid, a dashboard provider file and dashboards.
"""

from __future__ import annotations

from driftline.alerts.export.grafana import dashboard_problems, dashboards, write_grafana
from driftline.alerts.export.prometheus import (
    alerting_rules,
    prometheus_rules,
    recording_rules,
    rule_tests,
    write_prometheus_rules,
)

__all__ = [
    "alerting_rules",
    "dashboard_problems",
    "dashboards",
    "prometheus_rules",
    "recording_rules",
    "rule_tests",
    "write_grafana",
    "write_prometheus_rules",
]
