"""Preprocess: Hi-C loops to labelled, distance-matched gene-pair sets (AI4Loop's training sets).

``preprocess`` writes one set from files; ``build_pairs`` is the same on tables;
``build_benchmark_sets`` builds the seven cell lines' sets from the data registry.
"""

from preprocess._io import CHROM_CODE, read_loops, read_regions, to_pair_csv
from preprocess._pipeline import BENCHMARK_SETS, build_benchmark_sets, build_pairs, preprocess

__all__ = [
    "BENCHMARK_SETS",
    "CHROM_CODE",
    "build_benchmark_sets",
    "build_pairs",
    "preprocess",
    "read_loops",
    "read_regions",
    "to_pair_csv",
]
