"""``ai4loop evaluate``: metrics and curves of a model on a dataset's test part."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--model", required=True, help="upstream:<CELL>, <CELL>, best:<CELL> or a path.")
@click.option("--dataset", help="Benchmark cell line (cross-cell: --model K562 --dataset GM12878).")
@click.option("--pairs", type=click.Path(path_type=Path), help="Labelled pair file instead.")
@click.option("--expression", type=click.Path(path_type=Path), help="Expression file instead.")
@click.option("--sample", help="Expression column to use with --pairs/--expression.")
@click.option(
    "--split", type=click.Choice(["chromosome", "random"]), default="chromosome", show_default=True
)
@click.option("--seed", type=int, default=42, show_default=True)
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
    """Evaluate MODEL on the test part of a dataset."""
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
