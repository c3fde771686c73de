"""Chunked analysis: split the current data into chunks and compare each with the reference.

Chunks are periods of a timestamp column (``"day"``, ``"week"``, ``"month"``) or
``N`` equal runs of rows. Every chunk gets its own :class:`DatasetProfile`, built
in the same single pass over the batches; the whole current profile is their
merge, so chunking costs no second read. Each chunk is then compared with the
reference (drift per column with Benjamini-Hochberg across the chunk's
columns, and the data-quality checks).

Thresholds per chunk are *data-driven* when the reference's raw data is at
hand: the reference is split the same way (by the same period when it has the
timestamp column, else into runs of the current chunks' median size), each
reference chunk is compared with the whole reference (its statistic divided by
``1 - f``, f the chunk's share of the reference, which undoes the pull of the
chunk on the reference it is part of), and a column's threshold becomes
``max(fixed threshold, mean + 3 sd)`` of those no-drift statistics (distances
only: a test's threshold stays alpha). With fewer than 3 reference chunks, or a saved
reference profile, the fixed thresholds apply. docs/report-format.md
describes the ``"chunks"`` entry this adds to a report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from driftline.io import open_source
from driftline.report._split import (
    MAX_CHUNKS,
    PERIODS,
    Chunk,
    ChunkBy,
    ChunkedProfile,
    Progress,
    find_timestamp,
    profile_chunks,
    reference_roles,
)
from driftline.report.document import Report
from driftline.report.performance import PerformanceOptions, performance_section
from driftline.schema import Schema
from driftline.stats.drift.rules import DriftOptions, apply_verdicts, evaluate_column, is_test
from driftline.stats.profile import DEFAULT_SEED, DatasetProfile, is_profile_file
from driftline.stats.quality import QualityThresholds, column_checks, dataset_checks

MIN_REFERENCE_CHUNKS = 3

__all__ = [
    "MAX_CHUNKS",
    "MIN_REFERENCE_CHUNKS",
    "PERIODS",
    "Chunk",
    "ChunkBy",
    "ChunkedProfile",
    "attach_chunks",
    "chunked_report",
    "compare_chunks",
    "find_timestamp",
    "profile_chunks",
    "reference_profile",
]


def compare_chunks(
    reference: DatasetProfile,
    chunks: Sequence[Chunk],
    opts: DriftOptions | None = None,
    quality: QualityThresholds | None = None,
    *,
    reference_chunks: Sequence[Chunk] = (),
    progress: Progress | None = None,
    performance: PerformanceOptions | None = None,
) -> dict[str, Any]:
    """Compare every chunk with ``reference``; the ``"chunks"`` entry of a report."""
    o = replace(opts or DriftOptions(), all_metrics=False)
    q = quality or QualityThresholds()
    thresholds, how = _chunk_thresholds(reference, reference_chunks, o)
    out = []
    if progress is not None:
        progress(0, len(chunks))
    for chunk in chunks:
        item = _compare_one(reference, chunk, o, q, thresholds)
        drift = {n: c["drift"] for n, c in item["columns"].items()}
        perf = performance_section(reference, chunk.profile, drift, performance)
        if perf is not None:
            item["performance"] = perf
        out.append(item)
        if progress is not None:
            progress(1, None)
    return {
        "thresholds": how,
        "n_reference_chunks": len(reference_chunks),
        "column_thresholds": thresholds,
        "items": out,
    }


def _evaluate(
    reference: DatasetProfile,
    current: DatasetProfile,
    opts: DriftOptions,
    thresholds: dict[str, float],
) -> tuple[bool, dict[str, Any], dict[str, Any]]:
    from driftline.report.compare import compared_columns, descriptor_parents

    results = {}
    # a text or image column with its descriptors, counted once (as compare() does)
    for name, (r, c) in compared_columns(reference, current).items():
        if c.kind is not r.kind:
            continue
        o = opts
        if name in thresholds:
            o = replace(opts, thresholds={**opts.thresholds, "auto": thresholds[name]})
            if opts.method != "auto":
                o = replace(o, thresholds={**o.thresholds, opts.method: thresholds[name]})
        results[name] = evaluate_column(r, c, o)
    drifted, verdict = apply_verdicts(results, opts, descriptor_parents(reference))
    return drifted, verdict, results


def _compare_one(
    reference: DatasetProfile,
    chunk: Chunk,
    opts: DriftOptions,
    q: QualityThresholds,
    thresholds: dict[str, float],
) -> dict[str, Any]:
    from driftline.report.compare import insufficient_data, verdict_of

    drifted, verdict, results = _evaluate(reference, chunk.profile, opts, thresholds)
    insufficient = insufficient_data(reference.n_rows, chunk.n, results, opts.min_samples)
    checks = dataset_checks(reference, chunk.profile, q)
    for name, r in reference.columns.items():
        c = chunk.profile.columns.get(name)
        if c is not None and c.kind is r.kind:
            checks.extend(column_checks(r, c, q))
    columns = {}
    for name, res in results.items():
        d = res.decision
        columns[name] = {
            "drift": {
                "method": d.method,
                "statistic": _num(d.statistic),
                "p_value": _num(d.details.get("p_value_adjusted", d.p_value)),
                "threshold": _num(d.threshold),
                "drifted": d.drifted,
            }
        }
    return {
        "key": chunk.key,
        "start": chunk.start,
        "end": chunk.end,
        "n": chunk.n,
        "dataset": {
            "drifted": drifted,
            "verdict": verdict_of(drifted, insufficient),
            **({"reason": insufficient} if insufficient else {}),
            "drifted_columns": verdict["drifted_columns"],
            "drifted_descriptors": verdict["drifted_descriptors"],
            "n_columns": verdict["n_columns"],
            "n_tested": verdict["n_tested"],
            "n_tests": verdict["n_tests"],
            "quality": {
                "failed": sum(1 for x in checks if x.status == "fail"),
                "warned": sum(1 for x in checks if x.status == "warn"),
                "insufficient": sum(1 for x in checks if x.status == "insufficient"),
            },
        },
        "columns": columns,
    }


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _chunk_thresholds(
    reference: DatasetProfile, reference_chunks: Sequence[Chunk], opts: DriftOptions
) -> tuple[dict[str, float], str]:
    if len(reference_chunks) < MIN_REFERENCE_CHUNKS:
        return {}, f"fixed (fewer than {MIN_REFERENCE_CHUNKS} reference chunks)"
    stats: dict[str, list[float]] = {}
    fixed: dict[str, float] = {}
    for chunk in reference_chunks:
        _, _, results = _evaluate(reference, chunk.profile, opts, {})
        # The chunk is part of the reference it is compared with, which pulls the two
        # together by its share f: for Wasserstein exactly (F_ref - F_chunk is (1 - f)
        # times F_rest - F_chunk), for the other distances to first order. Undo it.
        shrink = 1.0 - min(chunk.n / max(reference.n_rows, 1), 0.5)
        for name, res in results.items():
            d = res.decision
            if is_test(d.method):  # a test's threshold is alpha, not a spread
                continue
            if d.drifted is not None and math.isfinite(d.statistic):
                stats.setdefault(name, []).append(d.statistic / shrink)
                fixed[name] = d.threshold
    out = {}
    for name, values in stats.items():
        if len(values) >= MIN_REFERENCE_CHUNKS:
            spread = float(np.mean(values) + 3 * np.std(values, ddof=1))
            out[name] = max(fixed[name], spread)
    return out, f"data-driven (mean + 3 sd over {len(reference_chunks)} reference chunks)"


def chunked_report(
    reference: Any,
    current: Any,
    chunk_by: str | int | ChunkBy | None,
    schema: Schema | dict[str, Any] | str | Path | None = None,
    *,
    timestamp: str | None = None,
    data_driven: bool = True,
    seed: int | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
    column_sources: Mapping[str, str] | None = None,
    batch_rows: int | None = None,
    **compare_options: Any,
) -> Report:
    """:func:`driftline.compare` plus a ``"chunks"`` entry: ``current`` split by ``chunk_by``.

    ``reference`` may be data, a path or a saved profile; with raw reference
    data and ``data_driven=True`` the chunk thresholds come from the
    reference's own chunks (module docstring). ``compare_options`` are passed
    to :func:`driftline.compare`. With ``chunk_by=None`` this is ``compare``
    with progress reports: ``progress(stage, advance, total)`` is called with
    stage ``"reference"``/``"current"`` (rows read) and ``"chunks"`` (chunks
    compared).
    """
    from driftline.report.compare import compare

    def hook(stage: str) -> Progress | None:
        if progress is None:
            return None
        return lambda n, total=None: progress(stage, n, total)

    from driftline.report.compare import performance_spec

    spec = None if chunk_by is None else ChunkBy.parse(chunk_by)
    seed = DEFAULT_SEED if seed is None else seed  # same inputs, same report
    cur_schema, compare_options = schema, dict(compare_options)
    task, classes = compare_options.get("task"), compare_options.get("classes")
    if isinstance(reference, str | Path) and is_profile_file(reference):
        reference = DatasetProfile.load(reference)
    # the current side is read the way the reference is: same kinds, roles and task
    like, ref_roles = reference_roles(reference, schema, task, batch_rows, column_sources)
    label_stats = None
    if compare_options.get("labels") is not None:  # late labels: join before profiling
        from driftline.report.late_labels import join_with_options

        current, cur_schema, label_stats = join_with_options(
            reference, current, schema, compare_options
        )
    cur = profile_chunks(
        current,
        spec,
        cur_schema,
        timestamp=timestamp,
        seed=seed + 1,
        progress=hook("current"),
        column_sources=column_sources,
        batch_rows=batch_rows,
        task=task,
        like=like,
        performance=lambda s: performance_spec(s, ref_roles, task, classes),
    )
    ref, ref_chunks = reference_profile(
        reference,
        schema,
        cur,
        data_driven=data_driven,
        seed=seed,
        progress=hook("reference"),
        column_sources=column_sources,
        batch_rows=batch_rows,
        task=task,
        performance=lambda s: performance_spec(s, None, task, classes),
    )
    n_cols = len(cur.whole.columns)
    if progress is not None:
        progress("columns", 0, n_cols)
    compare_options["seed"] = seed  # the estimators' seed
    report = compare(ref, cur.whole, **compare_options)
    if progress is not None:
        progress("columns", n_cols, None)
    if label_stats is not None and "performance" in report.data:
        report.data["performance"]["labels"] = label_stats.to_dict()
    if spec is not None:
        attach_chunks(report, ref, cur, ref_chunks, compare_options, progress=hook("chunks"))
    return report


def reference_profile(
    reference: Any,
    schema: Any,
    current: ChunkedProfile,
    *,
    data_driven: bool = True,
    seed: int | None = None,
    progress: Progress | None = None,
    column_sources: Mapping[str, str] | None = None,
    batch_rows: int | None = None,
    task: str | None = None,
    performance: Any = "auto",
) -> tuple[DatasetProfile, list[Chunk]]:
    """The reference's profile and, for data-driven thresholds, its own chunks."""
    if isinstance(reference, DatasetProfile):
        return reference, []
    if isinstance(reference, str | Path) and is_profile_file(reference):
        return DatasetProfile.load(reference), []
    kw: dict[str, Any] = {
        "seed": seed,
        "progress": progress,
        "column_sources": column_sources,
        "batch_rows": batch_rows,
        "task": task,
        "performance": performance,
    }
    if not data_driven or not current.chunks:
        return profile_chunks(reference, None, schema, **kw).whole, []
    spec, ts = current.chunk_by, current.timestamp
    has_ts = ts is not None and ts in open_source(reference).schema.names
    if spec is not None and spec.period is not None and has_ts:
        res = profile_chunks(reference, spec, schema, timestamp=ts, **kw)
        return res.whole, res.chunks
    size = int(np.median([c.n for c in current.chunks]))
    res = profile_chunks(reference, None, schema, rows_per_chunk=size, **kw)
    return res.whole, res.chunks


def attach_chunks(
    report: Report,
    reference: DatasetProfile,
    current: ChunkedProfile,
    reference_chunks: Sequence[Chunk],
    compare_options: dict[str, Any],
    *,
    progress: Progress | None = None,
) -> Report:
    """Compare the current chunks with the reference and add ``"chunks"`` to ``report``."""
    opts = DriftOptions(
        method=compare_options.get("method", "auto"),
        per_column=compare_options.get("per_column") or {},
        thresholds=compare_options.get("thresholds") or {},
        alpha=compare_options.get("alpha", 0.05),
        min_samples=compare_options.get("min_samples", 30),
        n_bins=compare_options.get("n_bins", 10),
    )
    quality = compare_options.get("quality")
    q = (
        quality
        if isinstance(quality, QualityThresholds)
        else QualityThresholds.from_dict(quality or {})
    )
    perf = PerformanceOptions(
        estimate=compare_options.get("estimate", True),
        valid_ranges=dict(compare_options.get("valid_ranges") or {}),
        confidence_drop=compare_options.get("confidence_drop", 0.05),
        seed=compare_options.get("seed") or 0,
    )
    result = compare_chunks(
        reference,
        current.chunks,
        opts,
        q,
        reference_chunks=reference_chunks,
        progress=progress,
        performance=perf,
    )
    report.data["chunks"] = result["items"]
    report.data["chunking"] = {
        "by": str(current.chunk_by),
        "timestamp": current.timestamp,
        "n_chunks": len(current.chunks),
        "unassigned_rows": current.unassigned,
        "thresholds": result["thresholds"],
        "n_reference_chunks": result["n_reference_chunks"],
        "column_thresholds": result["column_thresholds"],
    }
    return report
