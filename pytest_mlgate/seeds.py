"""Seeds: one per session, one per test derived from it and the test's node id.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import hashlib

__all__ = ["test_seed"]


def test_seed(session_seed: int, nodeid: str) -> int:
    """A 32-bit seed for one test, derived from the session seed and its node id (stable across
    runs, processes and test order)."""
    digest = hashlib.sha256(f"{session_seed}:{nodeid}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


test_seed.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever its name
