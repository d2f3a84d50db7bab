"""``ai4loop evaluate``: metrics and curves of a model on a dataset's test part."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ai4loop_core.cli.dataset_options import dataset_options


@click.command()
@click.option("--model", required=True, help="upstream:<CELL>, <CELL>, best:<CELL> or a path.")
@dataset_options
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), help="Write metrics JSON (+ curves)."
)
def evaluate(
    model: str,
    dataset: str | None,
    pairs: Path | None,
    expression: Path | None,
    sample: str | None,
    split: str,
    seed: int,
    json_out: Path | None,
) -> None:
    """Evaluate MODEL on the test part of a dataset (cross-cell: --model K562 --dataset GM12878)."""
    from ai4loop_core.evaluate import evaluate_model

    result = evaluate_model(
        model=model,
        dataset=dataset,
        split=split,
        seed=seed,
        pairs=pairs,
        expression=expression,
        sample=sample,
        json_out=json_out,
    )
    click.echo(json.dumps(result["test"], indent=2))
