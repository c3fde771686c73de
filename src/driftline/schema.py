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
    Role.TIMESTAMP: frozenset({Kind.DATETIME, Kind.NUMERIC}),
    Role.SEGMENT: frozenset({Kind.CATEGORICAL, Kind.BOOLEAN, Kind.NUMERIC}),
}

#: Kinds an Arrow type can be profiled as (a numeric kind on a string column is
#: allowed: values that do not parse are counted as type errors).
_TYPE_KINDS = {
    "numeric": frozenset({Kind.NUMERIC, Kind.CATEGORICAL, Kind.DATETIME}),
    "string": frozenset({Kind.CATEGORICAL, Kind.TEXT, Kind.NUMERIC, Kind.DATETIME}),
    "bool": frozenset({Kind.BOOLEAN, Kind.CATEGORICAL, Kind.NUMERIC}),
    "temporal": frozenset({Kind.DATETIME, Kind.NUMERIC}),
    "list": frozenset({Kind.EMBEDDING}),
    "other": frozenset({Kind.CATEGORICAL}),
}

#: An integer target or prediction with at most this many distinct values (in the
#: inference sample) is taken as class labels: categorical.
MAX_CLASSES = 20

_TARGET_NAMES = {"target", "label", "y", "y_true", "ground_truth", "actual"}
_PREDICTION_NAMES = {"prediction", "pred", "y_pred", "predicted", "predicted_label"}
_TIMESTAMP_NAMES = {"timestamp", "ts", "time", "event_time", "created_at", "date", "datetime"}
_ID_PATTERN = re.compile(r"(^id$|_id$|^uuid$)", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    role: Role = Role.FEATURE

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "role": self.role.value}


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
        return Kind.EMBEDDING
    if fam == "string" and sample is not None and len(sample) > 0:
        import pyarrow.compute as pc

        s = sample if not pa.types.is_dictionary(sample.type) else sample.cast(t.value_type)
        lengths = pc.utf8_length(s)
        mean_len = pc.mean(lengths).as_py()
        spaces = pc.mean(pc.cast(pc.match_substring(s, " "), pa.float64())).as_py()
        if mean_len is not None and mean_len > 40 and (spaces or 0) > 0.5:
            return Kind.TEXT
    return Kind.CATEGORICAL


def infer_role(name: str, kind: Kind) -> Role:
    """Role by conventional column names; everything else is a feature."""
    low = name.lower()
    if low in _TARGET_NAMES:
        return Role.TARGET
    if low in _PREDICTION_NAMES:
        return Role.PREDICTION
    if kind is Kind.DATETIME and (low in _TIMESTAMP_NAMES or low.endswith("_at")):
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
        self, overrides: Mapping[str, Mapping[str, str] | ColumnSpec], arrow_schema: pa.Schema
    ) -> Schema:
        """Apply user overrides ``{column: {"kind": ..., "role": ...}}``, checking each."""
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
                unknown = set(spec) - {"kind", "role"}
                if unknown:
                    raise SchemaError(
                        f"schema entry for column {name!r} has unknown key(s) "
                        f"{sorted(unknown)}; allowed: kind, role"
                    )
                kind = _parse_enum(Kind, spec.get("kind"), name, "kind") or base.kind
                role = _parse_enum(Role, spec.get("role"), name, "role")
                if role is None:
                    role = base.role if "kind" not in spec else infer_role(name, kind)
                new = ColumnSpec(name, kind, role)
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
        import yaml

        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text())
        except OSError as exc:
            raise SchemaError(f"cannot read schema file {p}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise SchemaError(f"schema file {p} is not valid YAML: {exc}") from exc
        if data is None:
            data = {}
        return cls.from_dict(data, arrow_schema)

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {n: c.to_dict() for n, c in self.columns.items()}

    @classmethod
    def from_specs(cls, specs: Iterable[ColumnSpec]) -> Schema:
        return cls({s.name: s for s in specs})


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
    allowed_kinds = _TYPE_KINDS[type_family(arrow_type)]
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
