"""Shared test set-up: real inputs come from the data registry (the local mirror in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("AI4LOOP_DATA_DIR", str(REPO / "data"))
_mirror = REPO.parent / "shared" / "data"
if _mirror.is_dir():
    os.environ.setdefault("AI4LOOP_DATA_MIRROR", str(_mirror))


@pytest.fixture(scope="session")
def reg():
    """Fetch a registry file by mirror path, e.g. ``ai4loop-upstream/data/allRNAseq.tsv``."""
    from ai4loop_core.data import ensure_file

    return ensure_file
