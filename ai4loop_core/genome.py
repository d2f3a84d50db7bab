"""Chromosome naming shared by every reader: ``1``, ``chr1`` and ``1.0`` are all ``chr1``."""

from __future__ import annotations

_ALIASES = {"23": "X", "24": "Y", "25": "M", "MT": "M"}


def normalize_chrom(name: object) -> str:
    """Return the UCSC name of a chromosome (``chr1``..``chr22``, ``chrX``, ``chrY``, ``chrM``).

    Accepts Ensembl names (``1``, ``X``, ``MT``), AI4Loop's numeric codes (``23`` = X) and floats
    written by spreadsheets (``7.0``).
    """
    text = str(name).strip()
    if text.lower().startswith("chr"):
        text = text[3:]
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    text = _ALIASES.get(text.upper(), text)
    if text.upper() in {"X", "Y", "M"}:
        text = text.upper()
    return f"chr{text}"
