"""The dashboard's one data layer: find atlases, and answer every page's question with DuckDB.

An atlas is a directory of Parquet tables plus ``manifest.json`` (docs/atlas-schema.md). An
:class:`AtlasStore` holds every atlas found under the given paths and one in-memory DuckDB
connection; each question is one method returning a :class:`pandas.DataFrame`. Queries are
parameterised: values, search text and file lists travel as DuckDB parameters, never inside the
SQL text. The only text put into SQL is the fixed ``read_parquet($...)`` call a ``{table}``
placeholder stands for.

Scores may be stored as float (float16/32) or quantised integers: ``uint8`` holds
``round(score * 255)`` and ``uint16`` ``round(score * 65535)``; queries return floats in [0, 1].

Besides the documented tables, two optional ones are used when present: ``expression``
(``sample_id``, ``gene_id``, ``tpm``: the anchor genes' expression in each sample) and
``gene_sets`` (``gene_set``, ``ggi_id``: members of the cancer-gain sets drugs are ranked
against). Model cards and evaluation JSONs (not atlas tables) are read here too.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ai4loop_core.errors import BadInputError
from ai4loop_core.model import is_member_card

__all__ = [
    "PUBLISHED_METRICS",
    "Atlas",
    "AtlasStore",
    "cluster_order",
    "evaluations",
    "find_atlases",
    "model_cards",
    "page_queries",
    "read_curves",
    "time_queries",
]

TABLES = (
    "samples",
    "ggis",
    "scores",
    "group_summary",
    "differential",
    "sample_burden",
    "signatures",
    "drug_ranking",
    "expression",
    "gene_sets",
)
PUBLISHED_SOURCE = "AI4Loop (published)"
SCORE_THRESHOLD = 0.5
# Test-set metrics of the published models (AI4Loop paper, random split).
PUBLISHED_METRICS = pd.DataFrame(
    {
        "cell_line": ["K562", "GM12878", "HeLaS3", "IMR90"],
        "auroc": [0.841, 0.820, 0.875, 0.879],
        "auprc": [0.620, 0.533, 0.625, 0.587],
    }
)
_INT_SCALE = {"uint8": 255.0, "uint16": 65535.0}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_PARAM = re.compile(r"\$(\w+)")
_ENSEMBL = re.compile(r"^(ENSG\d{11})(\.\d+(_\d+)?)?$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Atlases on disk


@dataclass(frozen=True)
class Atlas:
    """One atlas directory: its manifest and the Parquet files of each table it has."""

    name: str
    path: Path
    manifest: dict[str, Any]
    tables: dict[str, tuple[str, ...]] = field(repr=False)

    @property
    def kind(self) -> str:
        """``expression``, ``drug`` or ``summary``."""
        return str(self.manifest.get("kind", "expression"))

    @property
    def source(self) -> str:
        """``built here`` or ``AI4Loop (published)``."""
        return str(self.manifest.get("source", "built here"))

    @property
    def synthetic(self) -> bool:
        """True for scale-benchmark atlases: never shown as biology."""
        return bool(self.manifest.get("synthetic", False))

    @property
    def published(self) -> bool:
        return self.source == PUBLISHED_SOURCE

    @property
    def model(self) -> str:
        return _name_of(self.manifest.get("model"))

    @property
    def catalog(self) -> str:
        return _name_of(self.manifest.get("catalog"))

    @property
    def label(self) -> str:
        """Name with provenance, for selectors: ``tcga-demo (built here)``."""
        tag = "SYNTHETIC, not biology" if self.synthetic else self.source
        return f"{self.name} ({tag})"

    def has(self, *tables: str) -> bool:
        return all(t in self.tables for t in tables)

    @cached_property
    def score_divisor(self) -> float:
        """What stored scores are divided by to give probabilities (1 for float scores)."""
        if "scores" not in self.tables:
            return 1.0
        kind = str(pq.read_schema(self.tables["scores"][0]).field("score").type)
        return _INT_SCALE.get(kind, 1.0)


def _name_of(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or value.get("id") or json.dumps(value, sort_keys=True))
    return "" if value is None else str(value)


def _table_files(path: Path) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for table in TABLES:
        single = path / f"{table}.parquet"
        if single.is_file():
            found[table] = (str(single),)
        elif (path / table).is_dir():
            parts = sorted(str(p) for p in (path / table).rglob("*.parquet"))
            if parts:
                found[table] = tuple(parts)
    return found


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError) as err:
        raise BadInputError(f"{path}/manifest.json: cannot read it ({err}).") from err
    if not isinstance(manifest, dict):
        raise BadInputError(f"{path}/manifest.json: expected a JSON object.")
    return manifest


def find_atlases(paths: Iterable[Path | str]) -> dict[str, Atlas]:
    """Every atlas at or directly under ``paths`` (a directory with ``manifest.json``), by name."""
    out: dict[str, Atlas] = {}
    for root in paths:
        root = Path(root)
        if (root / "manifest.json").is_file():
            dirs = [root]
        elif root.is_dir():
            dirs = sorted(p for p in root.iterdir() if (p / "manifest.json").is_file())
        else:
            raise BadInputError(
                f"{root}: no such atlas directory; build one with "
                "`ai4loop atlas build-demo --out atlases`."
            )
        for d in dirs:
            manifest = _read_manifest(d)
            name = str(manifest.get("name") or d.name)
            if name in out:
                name = f"{name} ({d})"
            out[name] = Atlas(name, d.resolve(), manifest, _table_files(d))
    return out


# ---------------------------------------------------------------------------------------------
# Queries


class AtlasStore:
    """Every atlas under ``paths`` behind one DuckDB connection; one method per page question.

    Parameters
    ----------
    paths
        Atlas directories, or directories holding atlas directories.
    annotation
        Gene annotation for search and gene tracks (``gene_id``, ``symbol``, ``chrom``,
        ``start``, ``end``); default :func:`ai4loop_core.genes.load_annotation`, falling back to
        the genes of the atlas catalogs when the reference data are not there.
    threads
        DuckDB worker threads.
    """

    def __init__(
        self,
        paths: Iterable[Path | str],
        *,
        annotation: pd.DataFrame | None = None,
        threads: int = 2,
    ) -> None:
        self.atlases = find_atlases(paths)
        self._annotation = annotation
        self._con = duckdb.connect(config={"threads": threads})
        self._con.execute("SET parquet_metadata_cache = true")
        self._lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------------

    def atlas(self, name: str) -> Atlas:
        """The atlas called ``name`` (:class:`BadInputError` when there is none)."""
        try:
            return self.atlases[name]
        except KeyError:
            known = ", ".join(self.atlases) or "none"
            raise BadInputError(f"No atlas named {name!r}; loaded: {known}.") from None

    def names(self, *, kind: str | None = None, needs: Sequence[str] = ()) -> list[str]:
        """Atlas names, optionally of one kind and having all the ``needs`` tables.

        Real atlases first (expression, then summary, then drug; built before published),
        synthetic ones last.
        """
        hits = [
            a for a in self.atlases.values() if (kind is None or a.kind == kind) and a.has(*needs)
        ]
        kinds = {"expression": 0, "summary": 1, "drug": 2}
        hits.sort(key=lambda a: (a.synthetic, kinds.get(a.kind, 3), a.published, a.name))
        return [a.name for a in hits]

    def sql(self, atlas: Atlas | str, text: str, /, **params: Any) -> pd.DataFrame:
        """Run ``text``; ``{table}`` reads that table of ``atlas``, ``$name`` binds ``params``."""
        atlas = self.atlas(atlas) if isinstance(atlas, str) else atlas
        tables = sorted(set(_PLACEHOLDER.findall(text)))
        missing = [t for t in tables if not atlas.has(t)]
        if missing:
            raise BadInputError(f"Atlas {atlas.name!r} has no {', '.join(missing)} table.")
        query = _PLACEHOLDER.sub(lambda m: f"read_parquet($_t_{m.group(1)})", text)
        used = set(_PARAM.findall(query))
        args = {f"_t_{t}": list(atlas.tables[t]) for t in tables}
        args.update({k: v for k, v in params.items() if k in used})
        args = {k: v for k, v in args.items() if k in used}
        cur = self._con.cursor()
        try:
            return cur.execute(query, args).df()
        finally:
            cur.close()

    # -- overview -------------------------------------------------------------------------------

    def overview(self) -> pd.DataFrame:
        """One row per atlas: kind, provenance, model, catalog, sample/group/GGI counts."""
        rows = []
        for a in (self.atlases[n] for n in self.names()):
            counts = {t: self._count(a, t) for t in ("samples", "ggis")}
            groups = self.groups(a.name)
            rows.append(
                {
                    "atlas": a.name,
                    "kind": a.kind,
                    "provenance": a.source,
                    "synthetic": a.synthetic,
                    "model": a.model,
                    "catalog": a.catalog,
                    "samples": counts["samples"],
                    "groups": len(groups),
                    "ggis": counts["ggis"],
                    "created": str(a.manifest.get("created", "")),
                    "command": str(a.manifest.get("command", "")),
                }
            )
        return pd.DataFrame(rows)

    def _count(self, atlas: Atlas, table: str) -> int | None:
        if not atlas.has(table):
            return None
        return int(self.sql(atlas, f"SELECT count(*) AS n FROM {{{table}}}")["n"].iloc[0])

    def group_counts(self, atlas: str) -> pd.DataFrame:
        """Samples per group, tissue type and cohort."""
        return self.sql(
            atlas,
            """SELECT "group", tissue_type, cohort, count(*) AS samples FROM {samples}
               GROUP BY ALL ORDER BY tissue_type, "group", cohort""",
        )

    def groups(self, atlas: str) -> list[str]:
        """Group names of an atlas (from its samples, else its group summary)."""
        a = self.atlas(atlas)
        for table in ("samples", "group_summary", "sample_burden"):
            if a.has(table):
                df = self.sql(a, f'SELECT DISTINCT "group" FROM {{{table}}} ORDER BY 1')
                return df["group"].astype(str).tolist()
        return []

    def group_sizes(self, atlas: str) -> pd.DataFrame:
        """``group``, ``samples`` (null where unknown, as in the published summary)."""
        a = self.atlas(atlas)
        if a.has("samples"):
            return self.sql(
                a, 'SELECT "group", count(*) AS samples FROM {samples} GROUP BY 1 ORDER BY 1'
            )
        return self.sql(
            a, 'SELECT "group", max(n) AS samples FROM {group_summary} GROUP BY 1 ORDER BY 1'
        )

    def group_types(self, atlas: str) -> pd.DataFrame:
        """``group`` -> ``tissue_type`` (most common among its samples).

        Summary atlases have no samples: their ``Healthy`` group is ``normal``, the rest
        ``tumour``.
        """
        a = self.atlas(atlas)
        if a.has("samples"):
            return self.sql(
                a,
                """SELECT "group", mode(tissue_type) AS tissue_type FROM {samples}
                   GROUP BY 1 ORDER BY 1""",
            )
        groups = self.groups(atlas)
        kinds = ["normal" if g.lower() in {"healthy", "normal"} else "tumour" for g in groups]
        return pd.DataFrame({"group": groups, "tissue_type": kinds})

    # -- landscape ------------------------------------------------------------------------------

    def heatmap(
        self, atlas: str, *, n_top: int = 40, value: str = "fraction", groups: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Long table ``group, ggi_id, ggi, value`` for the ``n_top`` GGIs most variable across
        groups (variance of ``value``: ``fraction`` or ``mean``), over ``groups`` (default all).

        Two steps (rank the GGIs, then read those only): one pass over the summary each.
        """
        if value not in {"fraction", "mean"}:
            raise BadInputError(f"value must be 'fraction' or 'mean', not {value!r}.")
        where = 'AND list_contains($groups, "group")' if groups else ""
        top = self.sql(
            atlas,
            f"""SELECT ggi_id, var_pop({value}) AS spread FROM {{group_summary}}
                WHERE {value} IS NOT NULL {where}
                GROUP BY ggi_id ORDER BY spread DESC, ggi_id LIMIT $n""",
            n=int(n_top),
            groups=list(groups),
        )
        return self.sql(
            atlas,
            f"""SELECT s."group", s.ggi_id, g.symbol1 || '–' || g.symbol2 AS ggi,
                       s.{value} AS value
                FROM {{group_summary}} s JOIN {{ggis}} g USING (ggi_id)
                WHERE list_contains($ids, s.ggi_id) AND s.{value} IS NOT NULL {where}
                ORDER BY s.ggi_id, s."group" """,
            ids=[int(i) for i in top["ggi_id"]],
            groups=list(groups),
        )

    def burden(self, atlas: str) -> pd.DataFrame:
        """Per-sample GGI burden with the sample's tissue type."""
        a = self.atlas(atlas)
        if not a.has("samples"):
            return self.sql(a, "SELECT *, 'unknown' AS tissue_type FROM {sample_burden}")
        return self.sql(
            a,
            """SELECT b.sample_id, b."group", s.tissue_type, b.n_ggi, b.mean_score,
                      b.expression_correlation
               FROM {sample_burden} b JOIN {samples} s USING (sample_id)
               ORDER BY b."group", b.sample_id""",
        )

    def references(self, atlas: str) -> pd.DataFrame:
        """Each tumour group and the normal reference it was compared with."""
        return self.sql(
            atlas,
            """SELECT DISTINCT "group", reference FROM {differential} ORDER BY 1, 2""",
        )

    def differential(
        self,
        atlas: str,
        group: str,
        *,
        min_abs_delta: float = 0.0,
        max_q: float = 1.0,
        limit: int = 500,
    ) -> pd.DataFrame:
        """Differential GGIs of ``group`` passing ``|delta_fraction| >= min_abs_delta`` and
        ``q <= max_q``, strongest first, with gene symbols."""
        return self.sql(
            atlas,
            """SELECT d.ggi_id, g.symbol1, g.symbol2, g.chrom, g.distance, d.reference,
                      d.fraction_group, d.fraction_reference, d.delta_fraction,
                      d.mean_group, d.mean_reference, d.delta_mean, d.p, d.q
               FROM {differential} d JOIN {ggis} g USING (ggi_id)
               WHERE d."group" = $group AND abs(d.delta_fraction) >= $delta
                 AND coalesce(d.q, 1.0) <= $q
               ORDER BY abs(d.delta_fraction) DESC, d.q, d.ggi_id
               LIMIT $limit""",
            group=group,
            delta=float(min_abs_delta),
            q=float(max_q),
            limit=int(limit),
        )

    def volcano(
        self,
        atlas: str,
        group: str,
        *,
        min_abs_delta: float = 0.0,
        max_q: float = 1.0,
        max_points: int = 20000,
    ) -> pd.DataFrame:
        """Points of a volcano plot: every GGI passing the filters, plus an even thinning of the
        rest up to ``max_points`` (``passes`` tells them apart)."""
        return self.sql(
            atlas,
            """WITH d AS (
                 SELECT ggi_id, delta_fraction, q, p,
                        abs(delta_fraction) >= $delta AND coalesce(q, 1.0) <= $q AS passes
                 FROM {differential} WHERE "group" = $group),
               n AS (SELECT greatest(count(*) FILTER (WHERE NOT passes), 1) AS rest FROM d)
               SELECT d.ggi_id, g.symbol1 || '–' || g.symbol2 AS ggi, d.delta_fraction,
                      d.q, d.p, -log10(greatest(coalesce(d.q, 1.0), 1e-300)) AS minus_log10_q,
                      d.passes
               FROM d JOIN {ggis} g USING (ggi_id), n
               WHERE d.passes OR hash(d.ggi_id) % n.rest < $max_points""",
            group=group,
            delta=float(min_abs_delta),
            q=float(max_q),
            max_points=int(max_points),
        )

    # -- genes and GGIs -------------------------------------------------------------------------

    @cached_property
    def genes(self) -> pd.DataFrame:
        """The gene universe: the annotation, plus catalog genes it lacks (from anchors)."""
        ann = self._annotation
        if ann is None:
            try:
                from ai4loop_core.genes import load_annotation

                ann = load_annotation()
            except Exception:  # reference data absent: search the catalogs only
                ann = pd.DataFrame(columns=["gene_id", "symbol", "chrom", "start", "end"])
        ann = ann[["gene_id", "symbol", "chrom", "start", "end"]].copy()
        extra = [self._catalog_genes(a) for a in self.atlases.values() if a.has("ggis")]
        if extra:
            cat = pd.concat(extra, ignore_index=True)
            cat = cat[~cat["gene_id"].isin(set(ann["gene_id"]))].drop_duplicates("gene_id")
            ann = pd.concat([ann, cat], ignore_index=True)
        ann["symbol"] = ann["symbol"].astype("string").fillna("")
        ann["_sym"] = ann["symbol"].str.casefold()
        in_catalog: set[str] = set()
        for a in self.atlases.values():
            if a.has("ggis"):
                ids = self.sql(
                    a, "SELECT gene_id1 AS g FROM {ggis} UNION SELECT gene_id2 FROM {ggis}"
                )
                in_catalog.update(_unversioned(ids["g"]).tolist())
        ann["in_catalog"] = ann["gene_id"].isin(in_catalog)
        return ann.reset_index(drop=True)

    def _catalog_genes(self, atlas: Atlas) -> pd.DataFrame:
        df = self.sql(
            atlas,
            """SELECT gene_id1 AS gene_id, symbol1 AS symbol, chrom, start1 AS start, end1 AS "end"
               FROM {ggis}
               UNION ALL
               SELECT gene_id2, symbol2, chrom, start2, end2 FROM {ggis}""",
        )
        df["gene_id"] = _unversioned(df["gene_id"])
        return df

    def search_genes(self, text: str, *, limit: int = 20) -> pd.DataFrame:
        """Genes matching a symbol or Ensembl id (exact first, then prefix; genes with GGIs in a
        loaded atlas before others)."""
        text = str(text or "").strip()
        if not text:
            return self.genes.iloc[:0, :6]
        genes = self.genes
        key = text.casefold()
        ens = _ENSEMBL.match(text)
        gid = genes["gene_id"].str.upper()
        exact = (genes["_sym"] == key) | (gid == (ens.group(1).upper() if ens else text.upper()))
        prefix = genes["_sym"].str.startswith(key) | gid.str.startswith(text.upper())
        hits = genes[exact | prefix].assign(_exact=exact[exact | prefix])
        hits = hits.sort_values(
            ["_exact", "in_catalog", "symbol", "gene_id"], ascending=[False, False, True, True]
        )
        return hits.head(limit)[["gene_id", "symbol", "chrom", "start", "end", "in_catalog"]]

    def gene(self, gene_id: str) -> pd.Series:
        """The annotation row of one gene."""
        genes = self.genes
        row = genes[genes["gene_id"] == _unversioned(pd.Series([gene_id])).iloc[0]]
        if row.empty:
            raise BadInputError(f"Unknown gene {gene_id!r}; search by symbol or Ensembl id.")
        return row.iloc[0]

    def genes_in(self, chrom: str, start: int, end: int) -> pd.DataFrame:
        """Genes overlapping ``chrom:start-end`` (the gene track)."""
        g = self.genes
        hit = (g["chrom"] == chrom) & (g["end"] >= start) & (g["start"] <= end)
        return g.loc[hit, ["gene_id", "symbol", "chrom", "start", "end"]].sort_values("start")

    def ggis_near(
        self,
        atlas: str,
        chrom: str,
        start: int,
        end: int,
        *,
        group: str | None = None,
        limit: int = 400,
    ) -> pd.DataFrame:
        """GGIs with an anchor overlapping ``chrom:start-end``, with ``group``'s fraction and mean
        (``fraction``/``mean`` null without a group or a group summary)."""
        a = self.atlas(atlas)
        summary = a.has("group_summary") and group is not None
        join = (
            'LEFT JOIN (SELECT ggi_id, fraction, "mean" FROM {group_summary} '
            'WHERE "group" = $group) s USING (ggi_id)'
            if summary
            else ""
        )
        cols = "s.fraction, s.mean" if summary else "NULL::DOUBLE AS fraction, NULL::DOUBLE AS mean"
        return self.sql(
            a,
            f"""SELECT g.ggi_id, g.gene_id1, g.symbol1, g.gene_id2, g.symbol2, g.chrom,
                       g.start1, g.end1, g.start2, g.end2, g.distance, g.origin, {cols}
                FROM {{ggis}} g {join}
                WHERE g.chrom = $chrom
                  AND ((g.end1 >= $start AND g.start1 <= $end)
                       OR (g.end2 >= $start AND g.start2 <= $end))
                ORDER BY g.distance, g.ggi_id LIMIT $limit""",
            chrom=chrom,
            start=int(start),
            end=int(end),
            group=group,
            limit=int(limit),
        )

    def ggi(self, atlas: str, ggi_id: int) -> pd.Series:
        """One catalog row."""
        df = self.sql(atlas, "SELECT * FROM {ggis} WHERE ggi_id = $id", id=int(ggi_id))
        if df.empty:
            raise BadInputError(f"No GGI {ggi_id} in atlas {atlas!r}.")
        return df.iloc[0]

    def ggi_distribution(self, atlas: str, ggi_id: int) -> pd.DataFrame:
        """One GGI in every sample (``sample_id, group, tissue_type, score``); for atlases without
        sample scores, the per-group summary (``group, tissue_type, fraction, mean``)."""
        a = self.atlas(atlas)
        if a.has("scores", "samples"):
            return self.sql(
                a,
                """SELECT s.sample_id, m."group", m.tissue_type, s.score / $div AS score
                   FROM {scores} s JOIN {samples} m USING (sample_id)
                   WHERE s.ggi_id = $id ORDER BY m."group", s.sample_id""",
                id=int(ggi_id),
                div=a.score_divisor,
            )
        df = self.sql(
            a,
            """SELECT "group", fraction, "mean", median, n FROM {group_summary}
               WHERE ggi_id = $id ORDER BY "group" """,
            id=int(ggi_id),
        )
        return df.merge(self.group_types(atlas), on="group", how="left")

    def expression(self, atlas: str, gene_ids: Sequence[str]) -> pd.DataFrame:
        """TPM of ``gene_ids`` in every sample (``sample_id, group, tissue_type, gene_id, tpm``);
        empty when the atlas stores no expression."""
        a = self.atlas(atlas)
        ids = _unversioned(pd.Series(list(gene_ids), dtype="str")).tolist()
        if not a.has("expression", "samples"):
            return pd.DataFrame(columns=["sample_id", "group", "tissue_type", "gene_id", "tpm"])
        return self.sql(
            a,
            """SELECT e.sample_id, m."group", m.tissue_type, e.gene_id, e.tpm
               FROM {expression} e JOIN {samples} m USING (sample_id)
               WHERE list_contains($ids, e.gene_id) ORDER BY m."group", e.sample_id""",
            ids=ids,
        )

    def group_means(self, atlas: str, ggi_ids: Sequence[int] | None = None) -> pd.DataFrame:
        """Wide table: GGIs x groups of the mean score (the fraction where no mean is stored)."""
        a = self.atlas(atlas)
        where = "WHERE list_contains($ids, ggi_id)" if ggi_ids is not None else ""
        df = self.sql(
            a,
            f"""SELECT "group", ggi_id, coalesce("mean", fraction) AS value
                FROM {{group_summary}} {where}""",
            ids=[int(i) for i in ggi_ids] if ggi_ids is not None else [],
        )
        return df.pivot(index="ggi_id", columns="group", values="value")

    def catalog(self, atlas: str) -> pd.DataFrame:
        """The GGI catalog of an atlas (all columns)."""
        return self.sql(atlas, "SELECT * FROM {ggis} ORDER BY ggi_id")

    # -- drugs ----------------------------------------------------------------------------------

    def gene_sets(self, atlas: str) -> list[str]:
        """Cancer-gain GGI sets compounds were ranked against."""
        df = self.sql(atlas, "SELECT DISTINCT gene_set FROM {drug_ranking} ORDER BY 1")
        return df["gene_set"].astype(str).tolist()

    def drug_cells(self, atlas: str) -> list[str]:
        """Cell ids of a ranking (``all`` = aggregated over cell lines, first)."""
        df = self.sql(atlas, "SELECT DISTINCT cell_id FROM {drug_ranking}")
        cells = df["cell_id"].astype(str).tolist()
        return sorted(cells, key=lambda c: (c != "all", c))

    def drug_ranking(
        self,
        atlas: str,
        gene_set: str,
        *,
        cell_id: str = "all",
        compound: str = "",
        limit: int = 200,
    ) -> pd.DataFrame:
        """Compounds ranked for a gene set, most reversing (lowest score) first; ``compound``
        keeps names containing that text."""
        return self.sql(
            atlas,
            """SELECT pert_iname, cell_id, pert_dose, pert_time, score, p, q,
                      n_ggis_in_set, n_signatures
               FROM {drug_ranking}
               WHERE gene_set = $set AND cell_id = $cell
                 AND ($name = '' OR contains(lower(pert_iname), lower($name)))
               ORDER BY score, p, pert_iname LIMIT $limit""",
            set=gene_set,
            cell=cell_id,
            name=str(compound or "").strip(),
            limit=int(limit),
        )

    def compounds(self, atlas: str, text: str = "", *, limit: int = 50) -> list[str]:
        """Compound names containing ``text`` (case-insensitive), shortest match first."""
        df = self.sql(
            atlas,
            """SELECT DISTINCT pert_iname FROM {signatures}
               WHERE $text = '' OR contains(lower(pert_iname), lower($text))
               ORDER BY NOT starts_with(lower(pert_iname), lower($text)), length(pert_iname),
                        pert_iname
               LIMIT $limit""",
            text=str(text or "").strip(),
            limit=int(limit),
        )
        return df["pert_iname"].astype(str).tolist()

    def gene_set_members(self, gene_set: str) -> list[int]:
        """GGI ids of a gene set, from any loaded atlas with a ``gene_sets`` table."""
        for a in self.atlases.values():
            if a.has("gene_sets"):
                df = self.sql(
                    a, "SELECT ggi_id FROM {gene_sets} WHERE gene_set = $set", set=gene_set
                )
                if len(df):
                    return sorted(int(i) for i in df["ggi_id"])
        return []

    def compound_signatures(
        self, atlas: str, pert_iname: str, *, members: Sequence[int] = ()
    ) -> pd.DataFrame:
        """Each signature of a compound (dose, time, cell, plate) with its mean change over the
        gene set (``members``; every GGI when empty) and counts reversed (< -0.1) and gained
        (> 0.1)."""
        where = "AND list_contains($members, ggi_id)" if members else ""
        return self.sql(
            atlas,
            f"""SELECT signature_id, cell_id, pert_dose, pert_time, plate,
                       count(*) AS n_ggis, avg(delta_score) AS mean_delta,
                       count(*) FILTER (WHERE delta_score < -0.1) AS n_reversed,
                       count(*) FILTER (WHERE delta_score > 0.1) AS n_gained,
                       max(n_treated) AS n_treated, max(n_vehicle) AS n_vehicle
                FROM {{signatures}} WHERE pert_iname = $name {where}
                GROUP BY ALL ORDER BY cell_id, pert_time, pert_dose""",
            name=pert_iname,
            members=[int(i) for i in members],
        )

    def compound_ggis(
        self, atlas: str, pert_iname: str, *, members: Sequence[int] = (), limit: int = 25
    ) -> pd.DataFrame:
        """GGIs a compound reverses (most negative mean change) and gains (most positive),
        ``limit`` of each, with ``in_set`` marking gene-set members."""
        return self.sql(
            atlas,
            """WITH d AS (SELECT ggi_id, avg(delta_score) AS mean_delta, count(*) AS n_signatures
                          FROM {signatures} WHERE pert_iname = $name GROUP BY ggi_id),
                    r AS (SELECT *, row_number() OVER (ORDER BY mean_delta, ggi_id) AS lo,
                                 row_number() OVER (ORDER BY mean_delta DESC, ggi_id) AS hi
                          FROM d)
               SELECT CASE WHEN r.mean_delta < 0 THEN 'reversed' ELSE 'gained' END AS direction,
                      r.ggi_id, g.symbol1, g.symbol2, g.chrom, r.mean_delta, r.n_signatures,
                      list_contains($members, r.ggi_id) AS in_set
               FROM r JOIN {ggis} g USING (ggi_id)
               WHERE (r.lo <= $limit AND r.mean_delta < 0) OR (r.hi <= $limit AND r.mean_delta > 0)
               ORDER BY r.mean_delta""",
            name=pert_iname,
            members=[int(i) for i in members],
            limit=int(limit),
        )

    def coverage(self, atlas: str) -> dict[str, Any]:
        """How much of the catalog a drug atlas could measure (its L1000 coverage)."""
        a = self.atlas(atlas)
        out: dict[str, Any] = {"threshold": a.manifest.get("coverage_threshold")}
        if a.has("ggis"):
            cols = set(self.sql(a, "SELECT * FROM {ggis} LIMIT 0").columns)
            out["ggis"] = self._count(a, "ggis")
            if {"coverage1", "coverage2"} <= cols:
                df = self.sql(
                    a,
                    """SELECT median(least(coverage1, coverage2)) AS median_coverage
                       FROM {ggis}""",
                )
                out["median_coverage"] = float(df["median_coverage"].iloc[0])
        catalog = a.manifest.get("catalog")
        if isinstance(catalog, dict):
            size = catalog.get("candidates") or catalog.get("size")
            if size:
                out["catalog_size"] = int(size)
        caveats = a.manifest.get("caveats") or []
        out["caveats"] = [str(c) for c in caveats] if isinstance(caveats, list) else [str(caveats)]
        ranking = a.manifest.get("ranking")
        out["method"] = str(ranking.get("method", "")) if isinstance(ranking, dict) else ""
        return out


def _unversioned(ids: pd.Series) -> pd.Series:
    """``ENSG00000141510.16`` -> ``ENSG00000141510``; other ids unchanged."""
    ids = ids.astype("string")
    return ids.str.replace(r"^(ENSG\d{11})\.\S*$", r"\1", regex=True)


def cluster_order(matrix: pd.DataFrame) -> tuple[list, list]:
    """Row and column orders of a hierarchical clustering (average linkage, correlation
    distance; Euclidean where a profile is constant)."""
    from scipy.cluster.hierarchy import leaves_list, linkage

    def order(x: np.ndarray) -> list[int]:
        if len(x) < 3:
            return list(range(len(x)))
        flat = np.nanstd(x, axis=1) == 0
        metric = "euclidean" if flat.any() else "correlation"
        return leaves_list(linkage(np.nan_to_num(x), method="average", metric=metric)).tolist()

    values = matrix.to_numpy(dtype=float)
    rows = [matrix.index[i] for i in order(values)]
    cols = [matrix.columns[i] for i in order(values.T)]
    return rows, cols


# ---------------------------------------------------------------------------------------------
# Models


def _json_files(dirs: Path | str | Sequence[Path | str]) -> list[Path]:
    dirs = [dirs] if isinstance(dirs, str | Path) else list(dirs)
    return sorted({p for d in dirs for p in Path(d).rglob("*.json")})


def model_cards(models_dir: Path | str | Sequence[Path | str]) -> pd.DataFrame:
    """Our trained models' cards (``*.card.json`` under one or more directories): cell line,
    split, test metrics and where the model comes from. The cards of files that a ``best:<CELL>``
    card names (pooled trees, ensemble members: ``"cell_line": null``) are left out."""
    rows = []
    for path in (p for p in _json_files(models_dir) if p.name.endswith(".card.json")):
        try:
            card = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if is_member_card(card):
            continue
        test = (card.get("metrics") or {}).get("test") or {}
        rows.append(
            {
                "model": ("best:" if path.parent.name == "best" else "") + path.name[:-10],
                "cell_line": card.get("cell_line") or card.get("dataset"),
                "dataset": card.get("dataset"),
                "split": card.get("split"),
                "auroc": test.get("auroc"),
                "auprc": test.get("auprc"),
                "f1": test.get("f1"),
                "mcc": test.get("mcc"),
                "n_test": test.get("n"),
                "source": card.get("source"),
                "card": str(path),
            }
        )
    cols = ["model", "cell_line", "dataset", "split", "auroc", "auprc", "f1", "mcc", "n_test"]
    cols.append("source")
    return pd.DataFrame(rows, columns=[*cols, "card"])


def evaluations(models_dir: Path | str | Sequence[Path | str]) -> pd.DataFrame:
    """Evaluation JSONs (``ai4loop evaluate --json``) under one or more directories: model, the
    cell line it was trained on, the dataset judged, metrics and whether curves are beside it."""
    rows = []
    for path in _json_files(models_dir):
        if path.name.endswith(".card.json"):
            continue
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(result, dict) or "test" not in result or "model" not in result:
            continue
        card = result.get("model_card") or {}
        model = str(result["model"])
        trained_on = card.get("cell_line") or card.get("dataset") or model.split(":")[-1]
        stem = path.with_suffix("")
        rows.append(
            {
                "model": model,
                "source": card.get("source", "trained here"),
                "trained_on": trained_on,
                "dataset": result.get("dataset"),
                "split": result.get("split"),
                "cross_cell": bool(result.get("cross_cell")),
                "possible_leakage": bool(result.get("possible_leakage")),
                "auroc": result["test"].get("auroc"),
                "auprc": result["test"].get("auprc"),
                "n_test": result["test"].get("n"),
                "curves": str(stem) if Path(f"{stem}.roc.csv").exists() else "",
                "json": str(path),
            }
        )
    cols = [
        "model",
        "source",
        "trained_on",
        "dataset",
        "split",
        "cross_cell",
        "possible_leakage",
        "auroc",
        "auprc",
        "n_test",
        "curves",
        "json",
    ]
    return pd.DataFrame(rows, columns=cols)


def benchmark_summary(path: Path | str, *, split: str = "chromosome") -> pd.DataFrame:
    """Own-cell test rows of an ``ai4loop benchmark`` ``summary.csv`` for one split.

    One row per model x cell line: ``model, cell_line, auroc_mean, auroc_sd, auprc_mean,
    auprc_sd, n_seeds, n, leakage``; models in the file's order. Empty when there is no file.
    """
    cols = ["model", "cell_line", "auroc_mean", "auroc_sd", "auprc_mean", "auprc_sd"]
    cols += ["n_seeds", "n", "leakage"]
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=cols)
    table = pd.read_csv(path)
    need = {"model", "test_cell", "cross_cell", "split", "part", "auprc_mean", "n_seeds"}
    if not need <= set(table.columns):
        raise BadInputError(
            f"{path}: not a benchmark summary (missing columns {sorted(need - set(table.columns))}"
            "); write one with `ai4loop benchmark --out DIR`."
        )
    own = table[(table["part"] == "test") & (table["split"] == split) & ~table["cross_cell"]]
    own = own[own["n_seeds"] > 0].rename(columns={"test_cell": "cell_line"})
    return own[cols].reset_index(drop=True)


def read_curves(prefix: Path | str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ROC (``fpr, tpr``) and PR (``recall, precision``) curves written beside a JSON."""
    prefix = str(prefix)
    roc = pd.read_csv(f"{prefix}.roc.csv")
    pr = pd.read_csv(f"{prefix}.pr.csv")
    return roc, pr


def page_queries(store: AtlasStore, atlas: str) -> dict[str, Callable[[], object]]:
    """The questions the pages ask of an atlas, one callable per interaction (for the
    performance test and ``bench/dashboard_queries.py``); which ones depends on its kind."""
    a = store.atlas(atlas)
    if a.kind == "drug":
        gene_set = store.gene_sets(atlas)[0]
        members = store.gene_set_members(gene_set)
        top = store.drug_ranking(atlas, gene_set)["pert_iname"].iloc[0]
        return {
            "drugs: ranking for a gene set": lambda: store.drug_ranking(atlas, gene_set),
            "drugs: find a compound": lambda: store.drug_ranking(atlas, gene_set, compound=top[:3]),
            "drugs: compound signatures": lambda: store.compound_signatures(
                atlas, top, members=members
            ),
            "drugs: GGIs reversed/gained": lambda: store.compound_ggis(atlas, top, members=members),
        }
    if a.has("differential"):
        groups = store.references(atlas)["group"].tolist()
    else:
        groups = store.groups(atlas)
    middle = "SELECT quantile_disc(ggi_id, 0.5) AS ggi_id FROM {ggis}"  # not the first row group
    ggi = int(store.sql(atlas, middle)["ggi_id"].iloc[0])
    row = store.ggi(atlas, ggi)
    lo, hi = int(row.start1) - 10**6, int(row.end1) + 10**6
    queries = {
        "landscape: heatmap": lambda: store.heatmap(atlas, n_top=40),
        "explorer: gene search": lambda: store.search_genes(str(row.symbol1)),
        "explorer: GGIs at a locus": lambda: store.ggis_near(
            atlas, row.chrom, lo, hi, group=groups[0]
        ),
        "explorer: one GGI in every group": lambda: store.ggi_distribution(atlas, ggi),
    }
    if a.has("samples"):
        queries["overview: samples per group"] = lambda: store.group_counts(atlas)
    if a.has("sample_burden"):
        queries["landscape: burden"] = lambda: store.burden(atlas)
    if a.has("differential"):
        queries["landscape: differential"] = lambda: store.differential(
            atlas, groups[0], min_abs_delta=0.2, max_q=0.05
        )
        queries["landscape: volcano"] = lambda: store.volcano(
            atlas, groups[0], min_abs_delta=0.2, max_q=0.05
        )
    if a.has("scores"):
        queries["explorer: expression of two genes"] = lambda: store.expression(
            atlas, [row.gene_id1, row.gene_id2]
        )
    return queries


def time_queries(queries: dict[str, Callable[[], object]], *, repeats: int = 7) -> pd.DataFrame:
    """Run each query once to warm up, then ``repeats`` times: median, p95 and max seconds."""
    import time

    rows = []
    for name, ask in queries.items():
        ask()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            ask()
            times.append(time.perf_counter() - t)
        rows.append((name, float(np.median(times)), float(np.percentile(times, 95)), max(times)))
    return pd.DataFrame(rows, columns=["query", "median_s", "p95_s", "max_s"])
