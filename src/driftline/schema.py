"""Column roles and kinds: inferred from the data, overridable by the user.

A role says what a column is for (a model feature, the prediction, a score,
the target, an id, the timestamp, a segment key); a kind says how its values
are profiled (numeric, categorical, boolean, text, embedding, datetime).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from driftline.errors import SchemaError


class Kind(str, enum.Enum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    TEXT = "text"
    EMBEDDING = "embedding"
    DATETIME = "datetime"
    IMAGE = "image"


class Role(str, enum.Enum):
    FEATURE = "feature"
    PREDICTION = "prediction"
    SCORE = "score"
    TARGET = "target"
    ID = "id"
    TIMESTAMP = "timestamp"
    SEGMENT = "segment"


#: Which kinds each role accepts; anything else is a SchemaError.
ROLE_KINDS: dict[Role, frozenset[Kind]] = {
    Role.FEATURE: frozenset(Kind),
    Role.PREDICTION: frozenset({Kind.NUMERIC, Kind.CATEGORICAL, Kind.BOOLEAN}),
    Role.SCORE: frozenset({Kind.NUMERIC, Kind.EMBEDDING}),
    Role.TARGET: frozenset({Kind.NUMERIC, Kind.CATEGORICAL, Kind.BOOLEAN}),
    Role.ID: frozenset({Kind.NUMERIC, Kind.CATEGORICAL, Kind.TEXT}),
    Role.TIMESTAMP: frozenset({Kind.DATETIME}),
    Role.SEGMENT: frozenset({Kind.CATEGORICAL, Kind.BOOLEAN, Kind.NUMERIC}),
}

#: Kinds an Arrow type can be profiled as (a numeric kind on a string column is
#: allowed: values that do not parse are counted as type errors).
_TYPE_KINDS = {
    "numeric": frozenset({Kind.NUMERIC, Kind.CATEGORICAL, Kind.DATETIME}),
    "string": frozenset({Kind.CATEGORICAL, Kind.TEXT, Kind.NUMERIC, Kind.DATETIME}),
    "bool": frozenset({Kind.BOOLEAN, Kind.CATEGORICAL, Kind.NUMERIC}),
    "temporal": frozenset({Kind.DATETIME, Kind.NUMERIC}),
    "list": frozenset({Kind.EMBEDDING, Kind.IMAGE}),
    "binary": frozenset({Kind.CATEGORICAL, Kind.TEXT, Kind.IMAGE}),
    "other": frozenset({Kind.CATEGORICAL}),
}

#: An integer target or prediction with at most this many distinct values (in the
#: inference sample) is taken as class labels: categorical.
MAX_CLASSES = 20
#: What ``task`` may say: the first two decide, the last two are kinds of classification.
TASKS = ("classification", "regression", "binary", "multiclass")

_TARGET_NAMES = {"target", "label", "y", "y_true", "ground_truth", "actual"}
_PREDICTION_NAMES = {"prediction", "pred", "y_pred", "predicted", "predicted_label"}
_TIMESTAMP_NAMES = {"timestamp", "ts", "time", "event_time", "created_at", "date", "datetime"}
_ID_PATTERN = re.compile(r"(^id$|_id$|^uuid$)", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnSpec:
    """A column's kind and role; ``unit`` (s, ms, us, ns) for numbers that are epoch times."""

    name: str
    kind: Kind
    role: Role = Role.FEATURE
    unit: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"kind": self.kind.value, "role": self.role.value}
        return {**out, "unit": self.unit} if self.unit else out


def type_family(t: pa.DataType) -> str:
    """Coarse family of an Arrow type: numeric, string, bool, temporal, list or other."""
    if pa.types.is_dictionary(t):
        return type_family(t.value_type)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_temporal(t):
        return "temporal"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if isinstance(t, pa.BaseExtensionType):
        return type_family(t.storage_type)
    if pa.types.is_null(t):
        return "numeric"
    return "other"


def infer_kind(t: pa.DataType, sample: pa.Array | pa.ChunkedArray | None = None) -> Kind:
    """The kind a column of Arrow type ``t`` is profiled as by default.

    Strings are categorical unless their values look like free text (mean
    length over 40 characters with spaces in most values, in ``sample``).
    """
    fam = type_family(t)
    if fam == "numeric":
        return Kind.NUMERIC
    if fam == "bool":
        return Kind.BOOLEAN
    if fam == "temporal":
        return Kind.DATETIME
    if fam == "list":
        shape = getattr(t, "shape", None)  # a fixed-shape tensor of h x w (x c): images
        return Kind.IMAGE if shape is not None and len(shape) in (2, 3) else Kind.EMBEDDING
    if fam == "binary":
        return Kind.IMAGE if sample is not None and _looks_like_images(sample) else Kind.CATEGORICAL
    if fam == "string" and sample is not None and len(sample) > 0:
        import pyarrow.compute as pc

        s = sample if not pa.types.is_dictionary(sample.type) else sample.cast(t.value_type)
        lengths = pc.utf8_length(s)
        mean_len = pc.mean(lengths).as_py()
        spaces = pc.mean(pc.cast(pc.match_substring(s, " "), pa.float64())).as_py()
        if mean_len is not None and mean_len > 40 and (spaces or 0) > 0.5:
            return Kind.TEXT
    return Kind.CATEGORICAL


_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*")


def _looks_like_images(sample: pa.Array | pa.ChunkedArray) -> bool:
    """Most present values of a binary sample start like an image file (PNG, JPEG, ...)."""
    present = [v for v in sample.drop_null().to_pylist()[:200] if v]
    hits = sum(bytes(v[:4]).startswith(_IMAGE_MAGIC) for v in present)
    return bool(present) and hits >= 0.8 * len(present)


def timestamp_name(name: str) -> bool:
    """A conventional name of a timestamp column (``ts``, ``event_time``, ``*_at``)."""
    low = name.lower()
    return low in _TIMESTAMP_NAMES or low.endswith("_at")


def infer_role(name: str, kind: Kind) -> Role:
    """Role by conventional column names; everything else is a feature."""
    low = name.lower()
    if low in _TARGET_NAMES:
        return Role.TARGET
    if low in _PREDICTION_NAMES:
        return Role.PREDICTION
    if kind is Kind.DATETIME and timestamp_name(name):
        return Role.TIMESTAMP
    if _ID_PATTERN.search(low) and kind in (Kind.CATEGORICAL, Kind.NUMERIC, Kind.TEXT):
        return Role.ID
    return Role.FEATURE


@dataclass(frozen=True)
class Schema:
    """Ordered column specs. Build with :meth:`infer`, :meth:`from_dict` or :meth:`from_yaml`."""

    columns: dict[str, ColumnSpec] = field(default_factory=dict)

    def __iter__(self) -> Any:
        return iter(self.columns.values())

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> ColumnSpec:
        return self.columns[name]

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def with_role(self, role: Role) -> list[str]:
        return [c.name for c in self.columns.values() if c.role is role]

    @classmethod
    def infer(cls, arrow_schema: pa.Schema, sample: pa.Table | None = None) -> Schema:
        cols: dict[str, ColumnSpec] = {}
        for f in arrow_schema:
            smp = sample.column(f.name) if sample is not None else None
            kind = infer_kind(f.type, smp)
            role = infer_role(f.name, kind)
            if (
                role in (Role.TARGET, Role.PREDICTION)
                and pa.types.is_integer(f.type)
                and smp is not None
                and len(smp) > 0
                and len(smp.unique()) <= MAX_CLASSES
            ):
                kind = Kind.CATEGORICAL  # class labels, not quantities
            cols[f.name] = ColumnSpec(f.name, kind, role)
        datetimes = [c for c in cols.values() if c.kind is Kind.DATETIME]
        if len(datetimes) == 1 and not any(c.role is Role.TIMESTAMP for c in cols.values()):
            only = datetimes[0]  # a single datetime column is the timestamp
            cols[only.name] = replace(only, role=Role.TIMESTAMP)
        return cls(cols)

    def override(
        self,
        overrides: Mapping[str, Mapping[str, str] | ColumnSpec],
        arrow_schema: pa.Schema,
        sample: pa.Table | None = None,
    ) -> Schema:
        """Apply user overrides ``{column: {"kind": ..., "role": ...}}``, checking each.

        ``sample`` (the first rows) lets a text column named as the timestamp be
        checked: its values must be ISO 8601 times.
        """
        cols = dict(self.columns)
        available = arrow_schema.names
        for name, spec in overrides.items():
            if name not in available:
                raise SchemaError(
                    f"schema names column {name!r}, which is not in the data "
                    f"(columns: {', '.join(available[:30])}{' ...' if len(available) > 30 else ''})"
                )
            base = cols[name]
            if not isinstance(spec, Mapping | ColumnSpec):
                raise SchemaError(
                    f"schema entry for column {name!r} must be a mapping with 'kind' and/or "
                    f"'role', got {spec!r}"
                )
            if isinstance(spec, ColumnSpec):
                new = replace(spec, name=name)
            else:
                unknown = set(spec) - {"kind", "role", "unit"}
                if unknown:
                    raise SchemaError(
                        f"schema entry for column {name!r} has unknown key(s) "
                        f"{sorted(unknown)}; allowed: kind, role, unit"
                    )
                unit = _parse_unit(spec.get("unit"), name) or base.unit
                kind = _parse_enum(Kind, spec.get("kind"), name, "kind")
                role = _parse_enum(Role, spec.get("role"), name, "role")
                if kind is None:
                    kind = base.kind
                    if role is Role.TIMESTAMP or (unit and role is None):
                        field = arrow_schema.field(name)
                        kind = _time_kind(name, field.type, unit, base.kind)
                        if kind is Kind.DATETIME and sample is not None:
                            check_time_text(name, field.type, sample.column(name))
                if role is None:
                    role = base.role if "kind" not in spec else infer_role(name, kind)
                new = ColumnSpec(name, kind, role, unit)
            check_spec(new, arrow_schema.field(name).type)
            cols[name] = new
        return Schema(cols)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], arrow_schema: pa.Schema) -> Schema:
        """Infer from ``arrow_schema``, then apply ``data`` (``{"columns": {...}}`` or flat)."""
        cols = data.get("columns", data) if isinstance(data, Mapping) else None
        if not isinstance(cols, Mapping):
            raise SchemaError("a schema must be a mapping of column name to {kind, role}")
        bad = [k for k, v in cols.items() if not isinstance(v, Mapping | ColumnSpec)]
        if bad:
            raise SchemaError(
                f"schema entry for column {bad[0]!r} must be a mapping with 'kind' and/or 'role'"
            )
        return cls.infer(arrow_schema).override(cols, arrow_schema)

    @classmethod
    def from_yaml(cls, path: str | Path, arrow_schema: pa.Schema) -> Schema:
        from driftline._yaml import read_yaml

        data = read_yaml(path, what="schema file", error=SchemaError)
        if data is None:
            data = {}
        return cls.from_dict(data, arrow_schema)

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {n: c.to_dict() for n, c in self.columns.items()}

    @classmethod
    def from_specs(cls, specs: Iterable[ColumnSpec]) -> Schema:
        return cls({s.name: s for s in specs})


def settle_task(
    schema: Schema,
    arrow_schema: pa.Schema,
    sample: pa.Table | None = None,
    task: str | None = None,
    explicit: Iterable[str] = (),
) -> Schema:
    """The kinds of the target and prediction columns, set by the task they imply.

    The task is, in this order: ``task`` when given ("binary" and "multiclass"
    are classification); classification when there are score columns; what
    the target's kind says when the user set it (``explicit`` names the
    columns whose kind the user gave); else from the data: a numeric target
    with at most two distinct values in ``sample`` (0/1, 0.0/1.0), or an
    integer one with at most :data:`MAX_CLASSES`, holds class labels. A
    classification's target (and a numeric prediction) becomes categorical,
    a regression's numeric. An all-missing sample decides nothing.
    """
    if task is not None and task not in TASKS:
        raise SchemaError(f"task: {task!r} is not one of: {', '.join(TASKS)}")
    targets = schema.with_role(Role.TARGET)
    if len(targets) != 1:
        return schema
    target = schema[targets[0]]
    fixed = set(explicit)
    if task is None and schema.with_role(Role.SCORE):
        task = "classification"
    if task is None and target.name in fixed:
        return schema
    if task is None:
        task = _task_from_values(target, arrow_schema, sample)
        if task is None:
            return schema
    classify = task != "regression"
    cols = dict(schema.columns)
    for name in [target.name, *schema.with_role(Role.PREDICTION)]:
        spec = cols[name]
        if name != target.name and name in fixed:
            continue
        fam = type_family(arrow_schema.field(name).type)
        if classify and spec.kind is Kind.NUMERIC and fam in ("numeric", "string"):
            cols[name] = replace(spec, kind=Kind.CATEGORICAL)
        elif not classify and spec.kind in (Kind.CATEGORICAL, Kind.BOOLEAN):
            if name == target.name and fam not in ("numeric", "string", "bool"):
                raise SchemaError(
                    f"target column {name!r} has type {arrow_schema.field(name).type}; "
                    "a regression needs numbers"
                )
            if fam in ("numeric", "string", "bool"):
                cols[name] = replace(spec, kind=Kind.NUMERIC)
    return Schema(cols)


def _task_from_values(target: ColumnSpec, arrow_schema: pa.Schema, sample: Any) -> str | None:
    if target.kind is not Kind.NUMERIC:
        return "classification"
    t = arrow_schema.field(target.name).type
    if sample is None or target.name not in sample.column_names:
        return None
    values = sample.column(target.name).drop_null()
    if type_family(t) != "numeric" or len(values) == 0:
        return None
    import pyarrow.compute as pc

    distinct = values.unique()
    if pa.types.is_floating(distinct.type):
        distinct = distinct.filter(pc.is_finite(distinct))
        integral = bool(pc.all(pc.equal(distinct, pc.floor(distinct))).as_py())
    else:
        integral = pa.types.is_integer(distinct.type)
    if integral and len(distinct) <= 2:
        return "classification"  # 0/1 or 0.0/1.0: a binary label
    if pa.types.is_integer(t) and len(distinct) <= MAX_CLASSES:
        return "classification"
    return "regression"


def _parse_unit(value: Any, column: str) -> str | None:
    from driftline.timestamps import UNITS

    if value is None:
        return None
    if str(value) not in UNITS:
        raise SchemaError(
            f"column {column!r}: unit {value!r} is not one of: {', '.join(UNITS)} "
            "(seconds, milliseconds, microseconds, nanoseconds since 1970-01-01 UTC)"
        )
    return str(value)


def _time_kind(name: str, arrow_type: pa.DataType, unit: str | None, base: Kind) -> Kind:
    """The kind of a column named as a timestamp: datetime, if its type can say when."""
    fam = type_family(arrow_type)
    if fam in ("temporal", "string") or (fam == "numeric" and unit):
        return Kind.DATETIME
    if fam == "numeric":
        raise SchemaError(
            f"timestamp column {name!r} holds numbers ({arrow_type}), and numbers do not say "
            "their unit: give it (unit: s, ms, us or ns in the schema; --timestamp-unit on "
            "the command line)"
        )
    return base


def check_time_text(name: str, arrow_type: pa.DataType, values: Any) -> None:
    """Raise SchemaError naming a value when text meant as timestamps is not ISO 8601."""
    from driftline.timestamps import parse_iso

    present = values.drop_null()
    if type_family(arrow_type) != "string" or len(present) == 0:
        return
    _, bad = parse_iso(present)
    if bad.any():
        text = present.combine_chunks() if isinstance(present, pa.ChunkedArray) else present
        if pa.types.is_dictionary(text.type):
            text = text.cast(text.type.value_type)
        example = text.filter(pa.array(bad))[0].as_py()
        raise SchemaError(
            f"column {name!r} cannot have role timestamp: its text is not ISO 8601 times "
            f"(e.g. {example!r}; expected e.g. 2025-03-01, 2025-03-01T14:30:00Z)"
        )


def _parse_enum(enum_cls: Any, value: Any, column: str, key: str) -> Any:
    if value is None:
        return None
    try:
        return enum_cls(str(value).lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise SchemaError(f"column {column!r}: {key} {value!r} is not one of: {allowed}") from None


def check_spec(spec: ColumnSpec, arrow_type: pa.DataType) -> None:
    """Raise SchemaError when a role does not fit the kind or the kind the column's type."""
    fam = type_family(arrow_type)
    if spec.unit is not None and not (fam == "numeric" and spec.kind is Kind.DATETIME):
        raise SchemaError(
            f"column {spec.name!r}: a unit is for numbers that are times (kind datetime), "
            f"not for a {spec.kind.value} column of type {arrow_type}"
        )
    if fam == "numeric" and spec.kind is Kind.DATETIME and spec.unit is None:
        _time_kind(spec.name, arrow_type, None, spec.kind)  # raises: the unit is needed
    allowed_kinds = _TYPE_KINDS[fam]
    if spec.kind not in allowed_kinds:
        raise SchemaError(
            f"column {spec.name!r} has type {arrow_type} and cannot be profiled as "
            f"{spec.kind.value}; allowed kinds: {', '.join(sorted(k.value for k in allowed_kinds))}"
        )
    role_kinds = ROLE_KINDS[spec.role]
    if spec.kind not in role_kinds:
        raise SchemaError(
            f"column {spec.name!r} of kind {spec.kind.value} cannot have role "
            f"{spec.role.value}; role {spec.role.value} needs kind "
            f"{' or '.join(sorted(k.value for k in role_kinds))}"
        )
