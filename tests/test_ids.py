"""Server-made ids: single, bulk-made and monotonic UUIDv7s are the same kind of value."""

from __future__ import annotations

import pickle
import time
import uuid

from api.kernel.ids import Monotonic, uuid7, uuid7_many


def test_bulk_ids_are_distinct_version_7_uuids_of_this_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    ids = uuid7_many(5000)
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == 5000
    for u in ids:
        assert u.version == 7 and u.variant == uuid.RFC_4122
        assert before <= u.int >> 80 <= after
        assert u == uuid.UUID(str(u)) and hash(u) == hash(uuid.UUID(str(u)))
        assert u.is_safe is uuid.SafeUUID.unknown
    assert pickle.loads(pickle.dumps(ids[0])) == ids[0]
    # 74 random bits each: across 5000 ids every one of them takes both values.
    random_bits = (1 << 74) - 1
    spread = [(u.int >> 64 & 0xFFF) << 62 | (u.int & (1 << 62) - 1) for u in ids]
    assert all(any(r >> bit & 1 for r in spread) and not all(r >> bit & 1 for r in spread) for bit in range(74))
    assert max(spread) <= random_bits


def test_single_and_bulk_ids_sort_by_time() -> None:
    first = uuid7()
    time.sleep(0.002)
    assert all(first < u for u in uuid7_many(10))


def test_monotonic_ids_increase_within_a_millisecond_and_stay_version_7() -> None:
    next_id = Monotonic()
    ids = [next_id() for _ in range(600)]  # more than one read of its random pool
    assert ids == sorted(ids) and len(set(ids)) == 600
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
