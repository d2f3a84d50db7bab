"""``ai4loop train``: train the AI4Loop recipe on a benchmark dataset or your own pairs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ai4loop_core.cli.dataset_options import dataset_options


@click.command()
@dataset_options
@click.option("--epochs", type=int, default=30, show_default=True)
@click.option("--batch-size", type=int, default=30, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Model path (default models/<CELL>.keras)."
)
def train(
    dataset: str | None,
    pairs: Path | None,
    expression: Path | None,
    sample: str | None,
    split: str,
    seed: int,
    epochs: int,
    batch_size: int,
    out: Path | None,
) -> None:
    """Train a model and save it with its card (metrics on train/validation/test)."""
    from ai4loop_core.train import train_model

    card = train_model(
        dataset=dataset,
        pairs=pairs,
        expression=expression,
        sample=sample,
        split=split,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        out=out,
    )
    click.echo(json.dumps(card["metrics"]["test"], indent=2))
