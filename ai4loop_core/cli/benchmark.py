"""``ai4loop benchmark``: every model x cell line x split over seeds, with honesty checks."""

from __future__ import annotations

from pathlib import Path

import click

from ai4loop_core.benchmark import MODELS


@click.command()
@click.option("--cells", help="Comma-separated cell lines [default: every known dataset].")
@click.option(
    "--models",
    default=",".join(MODELS),
    show_default=True,
    help="Comma-separated model kinds.",
)
@click.option(
    "--splits", default="chromosome,random", show_default=True, help="chromosome and/or random."
)
@click.option("--seeds", type=int, default=5, show_default=True, help="Number of seeds.")
@click.option("--first-seed", type=int, default=42, show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default="benchmarks",
    show_default=True,
    help="Folder for results.csv, summary.csv, RESULTS.md, honesty.json and curves.",
)
@click.option(
    "--train-recipe",
    is_flag=True,
    help="Train missing Keras recipe models (about 15 min per cell line and seed on CPU).",
)
@click.option(
    "--save-best",
    is_flag=True,
    help="Write the model chosen on validation chromosomes to models/best/ (best:<CELL>).",
)
@click.option("--threads", type=int, default=1, show_default=True, help="Threads for the fits.")
def benchmark(
    cells: str | None,
    models: str,
    splits: str,
    seeds: int,
    first_seed: int,
    out: Path,
    train_recipe: bool,
    save_best: bool,
    threads: int,
) -> None:
    """Benchmark models on the AI4Loop benchmark sets and write the tables and curves."""
    from ai4loop_core.benchmark import run_benchmark

    result = run_benchmark(
        cells=_names(cells),
        models=_names(models),
        splits=_names(splits),
        seeds=seeds,
        first_seed=first_seed,
        out=out,
        train_recipe=train_recipe,
        save_best=save_best,
        threads=threads,
    )
    click.echo((out / "RESULTS.md").read_text())
    if result["choice"].get("saved"):
        click.echo("saved: " + ", ".join(result["choice"]["saved"]))


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None
