"""Deterministic randomness: one ``random.Random`` per (seed, table, column) stream.

Each stream is derived from the user's ``--seed`` and stable names with SHA-256, never from
``hash()`` (randomised per process). A column drawing only from its own stream produces the same
values whatever the batch size, and adding a column to one table changes nothing elsewhere.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *names: object) -> int:
    text = "\x1f".join([str(seed), *(str(name) for name in names)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def stream(seed: int, *names: object) -> random.Random:
    """A fresh, independent generator for one named stream."""
    return random.Random(derive_seed(seed, *names))
