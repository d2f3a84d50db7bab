"""The options ``train`` and ``evaluate`` share to name a labelled dataset and its split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

_OPTIONS = [
    click.option(
        "--dataset",
        help="Benchmark cell line (K562, GM12878, HeLaS3, IMR90, HMEC, HUVEC, NHEK, "
        "<CELL>-rebuilt, K562-genome: any datasets/<NAME>_pairs.csv).",
    ),
    click.option("--pairs", type=click.Path(path_type=Path), help="Labelled pair CSV/BEDPE."),
    click.option("--expression", type=click.Path(path_type=Path), help="Expression file."),
    click.option("--sample", help="Expression column to use with --pairs/--expression."),
    click.option(
        "--split",
        type=click.Choice(["chromosome", "random"]),
        default="chromosome",
        show_default=True,
    ),
    click.option("--seed", type=int, default=42, show_default=True),
]


def dataset_options(command: Callable) -> Callable:
    """Add ``--dataset/--pairs/--expression/--sample/--split/--seed`` to a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command
