"""``ai4loop predict``: score gene pairs for every sample of an expression file."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--model", "model", required=True, help="upstream:<CELL>, <CELL>, best:<CELL> or a path."
)
@click.option("--pairs", type=click.Path(path_type=Path), required=True, help="Pair CSV or BEDPE.")
@click.option(
    "--expression",
    type=click.Path(path_type=Path),
    required=True,
    help="Expression file: AI4Loop BED, genes x samples table, GDC STAR counts, LINCS GCT/GCTX.",
)
@click.option("--columns", type=click.Path(path_type=Path), help="Column-name file (AI4Loop BED).")
@click.option("--samples", multiple=True, help="Only these samples (repeatable).")
@click.option(
    "--input-scale",
    type=click.Choice(["auto", "tpm", "log2"]),
    default="auto",
    show_default=True,
    help="Scale of the expression values; log2 means log2(TPM+1) and is converted.",
)
@click.option("--chunk-samples", type=int, default=32, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="OUT.csv or OUT.parquet"
)
@click.option("--quiet", is_flag=True, help="No progress bar and no reading report.")
def predict(
    model: str,
    pairs: Path,
    expression: Path,
    columns: Path | None,
    samples: tuple[str, ...],
    input_scale: str,
    chunk_samples: int,
    out: Path,
    quiet: bool,
) -> None:
    """Predict interaction probabilities for PAIRS in every sample of EXPRESSION.

    EXPRESSION may also be a GDC STAR gene-counts file or a LINCS Level 3 GCT/GCTX plate.
    """
    from ai4loop_core.predict import predict_file
    from atlas.formats import register

    register()

    table = predict_file(
        model=model,
        pairs=pairs,
        expression=expression,
        out=out,
        columns=columns,
        samples=list(samples) or None,
        input_scale=input_scale,
        chunk_samples=chunk_samples,
        progress=not quiet,
        report=None if quiet else (lambda text: click.echo(text, err=True)),
    )
    click.echo(f"wrote {out}: {len(table)} pairs x {table.shape[1]} columns", err=True)
