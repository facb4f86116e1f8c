"""Reading Study C's training results (the ``.npz`` files its training rules write) for the figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import load_npz


def load(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of one training result; its ``meta`` record stays in the file (the figure rule's
    provenance record cites its config hash and seeds)."""
    return load_npz(path)[0]
