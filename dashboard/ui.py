"""Streamlit pieces shared by the pages: the cached atlas store, cached queries, atlas pickers
that always say where data come from, tables and charts with downloads, and error display."""

from __future__ import annotations

import importlib
import io
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from ai4loop_core.errors import BadInputError
from dashboard.query import Atlas, AtlasStore

ATLAS_ENV = "AI4LOOP_ATLAS"  # atlas directories, os.pathsep-separated (set by `ai4loop dashboard`)
MODELS_ENV = "AI4LOOP_MODELS_DIR"
DEFAULT_ATLAS = "atlases"
SYNTHETIC_NOTE = (
    "**Synthetic atlas**: random scores made for tests and benchmarks. It is not biology; do not "
    "read anything into its patterns."
)
log = logging.getLogger("ai4loop.dashboard")


def atlas_paths() -> tuple[str, ...]:
    """Atlas directories to load: ``$AI4LOOP_ATLAS``, else ``./atlases``."""
    value = os.environ.get(ATLAS_ENV) or DEFAULT_ATLAS
    return tuple(p for p in value.split(os.pathsep) if p)


REPO_MODELS = Path(__file__).resolve().parent.parent / "models"  # = ai4loop_core.model.MODELS_DIR
REPO_BENCHMARKS = REPO_MODELS.parent / "benchmarks"  # `ai4loop benchmark --out benchmarks`


def models_dirs() -> list[Path]:
    """Where model cards and evaluation JSONs are: ``$AI4LOOP_MODELS_DIR`` (os.pathsep-separated)
    or ``models/``."""
    value = os.environ.get(MODELS_ENV) or str(REPO_MODELS)
    return [Path(p) for p in value.split(os.pathsep) if p]


@st.cache_resource(show_spinner="Opening the atlases…")
def _open_store(paths: tuple[str, ...]) -> AtlasStore:
    return AtlasStore(paths)


def store() -> AtlasStore:
    """The store of every loaded atlas; stops the page with advice when there is none."""
    paths = atlas_paths()
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        st.info(
            f"No atlas at {', '.join(missing)}. Build the demo atlases with `ai4loop atlas "
            "build-demo --out atlases`, or start with `ai4loop dashboard --atlas DIR`."
        )
        st.stop()
    s = _open_store(paths)
    if not s.atlases:
        st.info(f"No atlas (a directory with manifest.json) under {', '.join(paths)}.")
        st.stop()
    return s


@st.cache_data(show_spinner=False, max_entries=512)
def _ask(paths: tuple[str, ...], method: str, args: tuple, kwargs: tuple) -> Any:
    return getattr(_open_store(paths), method)(*args, **dict(kwargs))


def ask(method: str, *args: Any, **kwargs: Any) -> Any:
    """``store().<method>(*args, **kwargs)``, cached (tables come back as copies)."""
    kw = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
    return _ask(atlas_paths(), method, tuple(args), kw)


# ---------------------------------------------------------------------------------------------
# Pickers and provenance


def provenance(atlas: Atlas) -> None:
    """Say where an atlas comes from; synthetic ones get a warning every time they are shown."""
    if atlas.synthetic:
        st.warning(SYNTHETIC_NOTE, icon=":material/science:")
    parts = [f"Source: **{atlas.source}**"]
    if atlas.model:
        parts.append(f"model {atlas.model}")
    if atlas.catalog:
        parts.append(f"catalog {atlas.catalog}")
    st.caption(" · ".join(parts))
    notes = atlas.manifest.get("caveats") or atlas.manifest.get("note")
    if notes and atlas.kind != "drug":  # the drug page shows its caveats itself
        with st.expander("Caveats of this atlas"):
            for note in notes if isinstance(notes, list) else [notes]:
                st.markdown(f"- {note}")


def pick_atlas(
    key: str,
    *,
    kind: str | None = None,
    needs: tuple[str, ...] = (),
    label: str = "Atlas",
    what: str = "this view",
) -> Atlas:
    """A selectbox of the atlases that can show ``what`` (kept in the URL as ``key``)."""
    s = store()
    names = s.names(kind=kind, needs=needs)
    if not names:
        need = f" with {', '.join(needs)}" if needs else ""
        st.info(f"No loaded atlas{need} for {what}. Loaded: {', '.join(s.atlases)}.")
        st.stop()
    name = st.selectbox(
        label,
        names,
        key=key,
        format_func=lambda n: s.atlas(n).label,
        bind="query-params",
    )
    atlas = s.atlas(name)
    provenance(atlas)
    return atlas


def without_small_groups(samples: pd.DataFrame, *, key: str, min_size: int = 3) -> pd.DataFrame:
    """Per-sample rows without the groups of fewer than ``min_size`` samples (single profiles
    such as HPA tissues or cell lines), unless a toggle (kept in the URL) asks for them."""
    sizes = samples.groupby("group")["group"].transform("size")
    n_small = samples.loc[sizes < min_size, "group"].nunique()
    label = f"Show the {n_small} groups with fewer than {min_size} samples (single profiles)"
    if n_small and not st.toggle(label, key=key, bind="query-params"):
        return samples[sizes >= min_size]
    return samples


def scale_note(atlas: Atlas) -> str:
    """A chart-title prefix that keeps synthetic data from passing as biology."""
    return "SYNTHETIC (not biology) · " if atlas.synthetic else ""


# ---------------------------------------------------------------------------------------------
# Tables and charts with downloads


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def downloads(df: pd.DataFrame, name: str, *, key: str, parquet: bool = False) -> None:
    """CSV (and Parquet) download buttons for ``df``; the file is made only when clicked."""
    row = st.container(horizontal=True)
    row.download_button(
        "Download CSV",
        data=lambda: _csv(df),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
    )
    if parquet:
        row.download_button(
            "Download Parquet",
            data=lambda: _parquet(df),
            file_name=f"{name}.parquet",
            mime="application/vnd.apache.parquet",
            key=f"{key}_parquet",
            on_click="ignore",
            icon=":material/download:",
        )


def table(
    df: pd.DataFrame,
    name: str,
    *,
    key: str,
    column_config: dict | None = None,
    height: int | str = "auto",
    parquet: bool = False,
    **kwargs: Any,
) -> Any:
    """A sortable table with its downloads; extra arguments go to ``st.dataframe``."""
    out = st.dataframe(
        df, hide_index=True, column_config=column_config, height=height, key=key, **kwargs
    )
    downloads(df, name, key=f"{key}_dl", parquet=parquet)
    return out


PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


@st.cache_data(show_spinner=False, max_entries=256)
def _figure(chart_name: str, data: Any, kwargs: dict) -> Any:
    from dashboard import charts

    return getattr(charts, chart_name)(data, **kwargs)


def chart(
    make: Callable[..., Any],
    data: Any,
    name: str,
    *,
    key: str,
    download: pd.DataFrame | None = None,
    after: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> None:
    """Draw ``make(data, **kwargs)`` (a :mod:`dashboard.charts` function; the figure is cached,
    Plotly builds are slow), then ``after(fig)`` for cheap per-view touches; with a PNG camera
    button, and ``download`` (default ``data``) as CSV."""
    fig = _figure(make.__name__, data, kwargs)
    if after is not None:
        after(fig)
    config = {**PLOTLY_CONFIG, "toImageButtonOptions": {"filename": name, "scale": 2}}
    st.plotly_chart(fig, key=key, config=config)
    table = download if download is not None else data
    if isinstance(table, pd.DataFrame):
        downloads(table, name, key=f"{key}_dl")


# ---------------------------------------------------------------------------------------------
# Errors


@contextmanager
def page_errors() -> Iterator[None]:
    """Show bad input as a message and any other failure as a short note; never a traceback."""
    try:
        yield
    except BadInputError as err:
        st.error(str(err), icon=":material/error:")
    except Exception:
        log.exception("dashboard page failed")
        st.error(
            "Something went wrong while drawing this page. The details are in the server log; "
            "try another choice, or reload.",
            icon=":material/error:",
        )


@st.cache_resource(show_spinner=False)
def warm_up_models() -> threading.Thread:
    """Import the model code (Keras and its backend: seconds) in the background, once per
    server, so that the first prediction does not wait for it."""
    thread = threading.Thread(
        target=importlib.import_module, args=("ai4loop_core.model",), daemon=True
    )
    thread.start()
    return thread


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def model(name: str) -> Any:
    """A loaded model (:func:`ai4loop_core.model.load_model`), kept for the server's life."""
    from ai4loop_core.model import load_model

    return load_model(name)
