"""The SDK's event ids: RFC 9562 version-7 UUIDs, unique and ordered by the time they were made."""

from __future__ import annotations

import uuid

from driftline.sdk._ids import uuid7_hex, uuid7_hex_batch, uuid7_ms


def test_ids_are_version_7_uuids_of_the_given_millisecond() -> None:
    ms = 1_700_000_000_123
    for hex_id in [uuid7_hex(ms), *uuid7_hex_batch(50, ms)]:
        u = uuid.UUID(hex=hex_id)
        assert u.version == 7
        assert u.variant == uuid.RFC_4122
        assert hex_id == u.hex
        assert uuid7_ms(hex_id) == ms


def test_later_ids_sort_after_earlier_ones_and_never_repeat() -> None:
    ids = []
    for ms in range(1_700_000_000_000, 1_700_000_000_040):
        batch = uuid7_hex_batch(100, ms)
        assert all(a < b for a in ids[-100:] for b in batch)  # each millisecond after the last
        ids.extend(batch)
    ids.extend(uuid7_hex() for _ in range(1000))  # now, long after 2023
    assert min(ids[-1000:]) > max(ids[:4000])
    assert len(set(ids)) == len(ids)
    assert uuid7_hex_batch(0) == []
