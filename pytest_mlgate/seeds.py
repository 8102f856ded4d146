"""Seeds: one per session, one per test derived from it and the test's node id, and the global
random state (Python's ``random`` and numpy's legacy global state) they are put into.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import hashlib
import random
import sys
from typing import Any

__all__ = ["GlobalState", "global_state", "restore_global_state", "seed_for_test", "seed_globals"]

# (random.getstate(), numpy.random.get_state() or None when numpy is not imported)
GlobalState = tuple[Any, Any]


def seed_for_test(session_seed: int, nodeid: str) -> int:
    """A 32-bit seed for one test, derived from the session seed and its node id (stable across
    runs, processes and test order)."""
    digest = hashlib.sha256(f"{session_seed}:{nodeid}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def seed_globals(seed: int) -> None:
    """Seed Python's ``random`` and, when numpy is imported, numpy's global random state."""
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed)


def global_state() -> GlobalState:
    np = sys.modules.get("numpy")
    return random.getstate(), (np.random.get_state() if np is not None else None)


def restore_global_state(state: GlobalState) -> None:
    """Put back a state from ``global_state`` (numpy's too, if it was imported then)."""
    random.setstate(state[0])
    np = sys.modules.get("numpy")
    if np is not None and state[1] is not None:
        np.random.set_state(state[1])
