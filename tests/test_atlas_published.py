"""The published pan-cancer atlas: import, schema, and every published list re-derived."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ai4loop_core.cli import cli
from ai4loop_core.errors import BadInputError
from atlas.published import (
    CANCERS,
    GROUPS,
    SOURCE,
    check_published,
    derive_tables,
    published_gene_sets,
)

SCHEMA_GGIS = [
    "ggi_id", "gene_id1", "symbol1", "gene_id2", "symbol2", "chrom",
    "start1", "end1", "start2", "end2", "distance", "origin",
]  # fmt: skip
SCHEMA_SUMMARY = ["group", "ggi_id", "n", "mean", "median", "fraction", "source"]


@pytest.fixture(scope="module")
def atlas_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("atlases") / "published"
    done = CliRunner().invoke(cli, ["atlas", "import-published", "--out", str(out)])
    assert done.exit_code == 0, done.output
    return out


def test_every_published_list_rederives_from_the_imported_fractions(atlas_dir):
    check = check_published(atlas_dir)
    per_cancer = check[check["table"].str.endswith(" specific")]
    assert list(per_cancer["group"]) == list(CANCERS)
    assert per_cancer["equal"].all(), per_cancer[~per_cancer["equal"]]
    assert (per_cancer["published"] == per_cancer["derived"]).all()
    assert check["equal"].all()
    counts = dict(zip(check["table"], check["published"], strict=True))
    assert counts["GGI-cancer"] == 101 and counts["GGI-healthy"] == 17
    assert counts["GGI-all"] == 855 and counts["CESC specific"] == 325
    assert per_cancer["published"].sum() + 101 + 17 + 855 == 2808


def test_tables_and_manifest_follow_the_schema(atlas_dir):
    manifest = json.loads((atlas_dir / "manifest.json").read_text())
    assert manifest["kind"] == "summary" and manifest["source"] == SOURCE
    assert manifest["assembly"] == "hg19" and manifest["synthetic"] is False
    assert manifest["tables"] == {
        "ggis": 11206,
        "group_summary": 11206 * 33,
        "gene_sets": 2808 - 855,
    }

    ggis = pd.read_parquet(atlas_dir / "ggis.parquet")
    assert list(ggis.columns[: len(SCHEMA_GGIS)]) == SCHEMA_GGIS
    assert ggis["ggi_id"].dtype == np.int32 and ggis["ggi_id"].is_unique
    assert (ggis["origin"] == "published").all()
    assert not ggis["gene_id1"].str.contains(r"\.").any()
    assert (ggis["published_table"] != "non-GGI").sum() == 2808
    assert ggis["duplicate_of"].notna().sum() == 37
    amdp2 = ggis[ggis["ggi_id"] == 2434].iloc[0]  # first row of GGI-all.csv, kept as given
    assert (amdp2["symbol1"], amdp2["start1"], amdp2["end1"]) == ("AMPD2", 110158726, 110174675)
    assert amdp2["distance"] == abs((109234932 + 109245550) // 2 - (110158726 + 110174675) // 2)
    # RBM6-GPX1 (LIHC specific) and GPX1-RBM6 (non-GGI): two rows, one engine catalog id
    both = ggis.set_index("ggi_id").loc[[30965, 47124]]
    assert list(both["published_table"]) == ["LIHC specific", "non-GGI"]
    assert both["catalog_ggi_id"].nunique() == 1 and both["catalog_ggi_id"].notna().all()
    assert ggis["catalog_ggi_id"].notna().mean() > 0.97

    summary = pd.read_parquet(atlas_dir / "group_summary.parquet")
    assert list(summary.columns) == SCHEMA_SUMMARY
    assert set(summary["group"]) == set(GROUPS)
    assert summary[["n", "mean", "median"]].isna().all().all()
    assert (summary["source"] == SOURCE).all()
    assert summary["fraction"].between(0, 1).all()


def test_crlf_file_reads_clean(atlas_dir):
    # GGI-cancer.csv has CRLF line endings: no '\r' may leak into the last group or symbols.
    summary = pd.read_parquet(atlas_dir / "group_summary.parquet")
    ggis = pd.read_parquet(atlas_dir / "ggis.parquet")
    pan = ggis.loc[ggis["published_table"] == "GGI-cancer", "ggi_id"]
    kich = summary[(summary["group"] == "KICH") & summary["ggi_id"].isin(pan)]
    assert len(kich) == 101 and (kich["fraction"] >= 0.5).all()
    assert not ggis["symbol2"].str.contains("\r").any()
    mta2 = summary[(summary["ggi_id"] == 11478) & (summary["group"] == "KICH")]["fraction"]
    assert mta2.item() == pytest.approx(0.681818182)


def test_gene_sets_are_the_published_lists():
    sets = published_gene_sets()
    sizes = sets.groupby("gene_set", sort=False).size()
    assert sizes["pan-cancer gain (published)"] == 101
    assert sizes["healthy only (published)"] == 17
    assert sizes["LUAD specific (published)"] == 2
    assert len(sizes) == 34 and list(sizes.index[:2]) == [
        "ACC specific (published)", "BLCA specific (published)"
    ]  # fmt: skip
    assert set(sets["kind"]) == {"cancer_specific", "pan_cancer_gain", "healthy_only"}
    assert sets["ggi_id"].dtype == np.int32


def test_derive_tables_applies_the_rules():
    groups = list(GROUPS)
    rows = {
        1: {g: 0.0 for g in groups} | {"ACC": 0.5},  # ACC only; 0.5 counts as present
        2: {g: 0.9 for g in groups} | {"Healthy": 0.1},  # every cancer, not Healthy
        3: {g: 0.9 for g in groups},  # everywhere
        4: {g: 0.0 for g in groups} | {"Healthy": 0.7},  # Healthy only
        5: {g: 0.0 for g in groups} | {"ACC": 0.6, "Healthy": 0.6},  # ACC and Healthy: none
        6: {g: 0.0 for g in groups} | {"UVM": 0.6, "ACC": 0.4999},  # UVM only
    }
    summary = pd.DataFrame(
        [(g, i, f) for i, row in rows.items() for g, f in row.items()],
        columns=["group", "ggi_id", "fraction"],
    )
    got = derive_tables(summary)
    want = pd.DataFrame(
        {
            "ggi_id": [1, 2, 3, 4, 5, 6],
            "derived_table": pd.array(
                ["ACC specific", "GGI-cancer", "GGI-all", "GGI-healthy", pd.NA, "UVM specific"],
                dtype="string",
            ),
        }
    )
    pd.testing.assert_frame_equal(got, want)


def test_check_catches_a_changed_fraction(atlas_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    summary = pd.read_parquet(atlas_dir / "group_summary.parquet")
    acc = pd.read_parquet(atlas_dir / "gene_sets.parquet").query("group == 'ACC'")["ggi_id"]
    hit = (summary["ggi_id"] == acc.iloc[0]) & (summary["group"] == "BRCA")
    summary.loc[hit, "fraction"] = 0.75  # now present in ACC and BRCA: in no list
    summary.to_parquet(bad / "group_summary.parquet")
    check = check_published(bad).set_index("table")
    assert not check.at["ACC specific", "equal"]
    assert check.at["ACC specific", "derived"] == check.at["ACC specific", "published"] - 1
    assert check.drop(index="ACC specific")["equal"].all()
    with pytest.raises(BadInputError, match="import-published"):
        check_published(tmp_path / "missing")
