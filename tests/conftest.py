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


@pytest.fixture(scope="session")
def k562_star_text(reg) -> str:
    """A GDC STAR gene-counts file (comment, header, an ``N_*`` row) around real ENCODE K562 TPM."""
    import pandas as pd

    encode = pd.read_csv(reg("ai4loop-upstream/data/allRNAseq.tsv"), sep="\t")
    star = pd.DataFrame(
        {"gene_id": encode["gene"] + ".5", "gene_name": "-", "gene_type": "-", "unstranded": 0,
         "stranded_first": 0, "stranded_second": 0, "tpm_unstranded": encode["K562"]}
    )  # fmt: skip
    lines = ["# gene-model: GENCODE v36", *star.to_csv(sep="\t", index=False).splitlines()]
    lines.insert(2, "N_unmapped\t\t\t7\t7\t7\t")  # STAR's summary rows come first
    return "\n".join(lines) + "\n"
