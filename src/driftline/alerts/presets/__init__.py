"""Built-in rules a user switches on by name (``alerts: presets: [...]``).

Each module here declares one :class:`~driftline.alerts.presets.registry.AlertPreset`
(``PRESET``) and is found by :data:`PRESETS` when the registry is first read;
adding a preset is one module plus its row in docs/alerts.md. The override in
the configuration replaces only the fields it sets. Teams follow the routing
idea of DESIGN.md: data-quality alerts to data owners (``team=data``), model
alerts to ML owners (``team=ml``), system alerts to operations (``team=ops``).
"""

from __future__ import annotations

from driftline.alerts.presets.registry import PRESETS, AlertPreset, preset_rule

__all__ = ["PRESETS", "AlertPreset", "preset_rule"]
