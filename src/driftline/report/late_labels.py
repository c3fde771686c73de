"""Join late labels to the current data before it is profiled (``compare(labels=...)``).

The labels are joined by id with :func:`driftline.stats.labels.join_labels`
(coverage, delays, orphans, duplicates last-wins), and the label column
becomes the current data's target column, named like the reference's target
so that label drift and performance line up with the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from driftline._yaml import read_yaml
from driftline.errors import InputError, SchemaError
from driftline.io import open_source
from driftline.schema import Schema
from driftline.stats.labels import LabelJoinStats, join_labels
from driftline.stats.profile import DatasetProfile, is_profile_file


def _table(data: Any, what: str) -> pa.Table:
    if isinstance(data, DatasetProfile) or (isinstance(data, str | Path) and is_profile_file(data)):
        raise InputError(
            f"{what}: joining late labels needs the data itself (with its id column), "
            "not a saved profile"
        )
    if isinstance(data, pa.Table):
        return data
    source = open_source(data)
    batches = list(source.batches())
    if not batches:
        return source.schema.empty_table()
    return pa.concat_tables(batches)


def join_current_labels(
    current: Any,
    labels: Any,
    *,
    id: str | None,
    label_column: str = "label",
    target: str | None = None,
    label_timestamp: str | None = None,
    prediction_timestamp: str | None = None,
) -> tuple[pa.Table, LabelJoinStats, str]:
    """``(current with the target column, join statistics, target column name)``."""
    if id is None:
        raise InputError("labels: name the id column that joins them to the predictions (id=...)")
    cur = _table(current, "current")
    lab = _table(labels, "labels")
    for col in (label_column, *([label_timestamp] if label_timestamp else [])):
        if col not in lab.column_names:
            raise InputError(
                f"labels: no column {col!r}; columns are {lab.column_names[:20]} "
                "(name the label column with label_column=...)"
            )
    if id not in lab.column_names:
        raise InputError(f"labels: no id column {id!r}; columns are {lab.column_names[:20]}")
    keep = [id, label_column, *([label_timestamp] if label_timestamp else [])]
    joined, stats = join_labels(
        cur,
        lab.select(keep),
        on=id,
        label_column=label_column,
        label_timestamp=label_timestamp,
        prediction_timestamp=prediction_timestamp,
        suffix="__joined",
    )
    name = target or label_column
    got = label_column + "__joined" if label_column in cur.column_names else label_column
    values = joined.column(got)
    out = joined.drop_columns(
        [c for c in joined.column_names if c not in cur.column_names and c != got]
    )
    out = out.drop_columns([got])
    if name in out.column_names:  # labels fill in where the data has none
        old = out.column(name)
        if old.type != values.type:
            try:
                values = values.cast(old.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InputError(
                    f"labels: column {label_column!r} has type {values.type}, the data's target "
                    f"column {name!r} has type {old.type}"
                ) from exc
        merged = pc.coalesce(values, old)
        out = out.set_column(out.column_names.index(name), name, merged)
    else:
        out = out.append_column(name, values)
    return out, stats, name


def with_target(schema: Any, target: str) -> Any:
    """``schema`` (None, mapping, :class:`Schema` or YAML path) with ``target`` as target."""
    if schema is None:
        return {"columns": {target: {"role": "target"}}}
    if isinstance(schema, str | Path):
        loaded = read_yaml(schema, what="schema file", error=SchemaError) or {}
        schema = loaded if isinstance(loaded, Mapping) else {}
    if isinstance(schema, Schema):
        cols: dict[str, Any] = {n: s.to_dict() for n, s in schema.columns.items()}
    else:
        cols = dict(schema.get("columns", schema))
    entry = cols.get(target)
    cols[target] = {**(entry if isinstance(entry, Mapping) else {}), "role": "target"}
    return {"columns": cols}


LABEL_OPTIONS = ("labels", "id", "label_column", "label_timestamp", "prediction_timestamp")


def reference_target(reference: Any, schema: Any) -> str | None:
    """The target column of the reference (a profile, a saved profile or data)."""
    from driftline.schema import Role
    from driftline.stats.profile import resolve_schema

    if isinstance(reference, str | Path) and is_profile_file(reference):
        reference = DatasetProfile.load(reference)
    if isinstance(reference, DatasetProfile):
        targets = reference.schema.with_role(Role.TARGET)
    else:
        source = open_source(reference)
        targets = resolve_schema(schema, source.schema, source).with_role(Role.TARGET)
    return targets[0] if len(targets) == 1 else None


def join_with_options(
    reference: Any, current: Any, schema: Any, options: dict[str, Any]
) -> tuple[pa.Table, Any, LabelJoinStats]:
    """Join ``options["labels"]`` to ``current``; removes the label options from ``options``.

    Returns the joined current table, the schema for it and the join statistics.
    """
    opts = {k: options.pop(k) for k in LABEL_OPTIONS if k in options}
    table, stats, target = join_current_labels(
        current,
        opts["labels"],
        id=opts.get("id"),
        label_column=opts.get("label_column", "label"),
        target=reference_target(reference, schema),
        label_timestamp=opts.get("label_timestamp"),
        prediction_timestamp=opts.get("prediction_timestamp"),
    )
    return table, with_target(schema, target), stats
