"""Neutral helpers every package may import: clock, durations, shared metric families.

Nothing here imports another driftline package (only :mod:`driftline.errors`),
so ``sdk``, ``windows``, ``alerts`` and ``server`` share these without leaning
on each other; tests/test_import_graph.py holds that rule.
"""
