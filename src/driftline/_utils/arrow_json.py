"""Which Arrow types hold JSON values: shared by the SDK's Arrow batches and the collector.

An Arrow prediction batch's events are stored and read back as the JSON the same
events would have been (docs/collector.md, "Arrow batches"), so their payload
columns may only hold what JSON holds: null, booleans, numbers, strings, lists
and objects (struct columns). Bytes, decimals, dates, times, durations, maps
and the like have no JSON value (the stored payload could not be written): the
SDK sends a batch holding them as JSON, the collector refuses such a column.
"""

from __future__ import annotations

from typing import Any


def not_json(t: Any) -> Any:
    """The first type within the Arrow type ``t`` that JSON has not, else None."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return not_json(t.value_type)
    if pa.types.is_struct(t):
        return next((bad for f in t if (bad := not_json(f.type)) is not None), None)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return not_json(t.value_type)
    if (
        pa.types.is_null(t)
        or pa.types.is_boolean(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
    ):
        return None
    return t
