"""``ai4loop dashboard``: start the AI4Loop Atlas web dashboard (Streamlit)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--atlas",
    "atlas",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Atlas directory, or a directory of atlases (repeatable) [default: atlases].",
)
@click.option("--port", type=int, default=8501, show_default=True)
@click.option(
    "--address",
    default="localhost",
    show_default=True,
    help="Interface to listen on (0.0.0.0 for every interface).",
)
@click.option(
    "--max-upload-mb",
    type=int,
    default=200,
    show_default=True,
    help="Largest file the upload page accepts.",
)
@click.option(
    "--models",
    "models_dir",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Directory of model cards and evaluation JSONs (repeatable) [default: models/].",
)
def dashboard(
    atlas: tuple[Path, ...],
    port: int,
    address: str,
    max_upload_mb: int,
    models_dir: tuple[Path, ...],
) -> None:
    """Browse GGI atlases, screen drugs and score your own RNA-seq in a web browser."""
    from dashboard.server import DEFAULT_ATLAS, serve

    code = serve(
        atlas=list(atlas) or [DEFAULT_ATLAS],
        port=port,
        address=address,
        max_upload_mb=max_upload_mb,
        models_dir=list(models_dir) or None,
    )
    if code:
        raise click.exceptions.Exit(code)
