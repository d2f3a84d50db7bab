"""The AI4Loop Atlas dashboard (``streamlit run dashboard/app.py`` or ``ai4loop dashboard``).

Pages live in ``views/``, not ``pages/``: Streamlit treats a ``pages/`` folder beside the entry
script as an old-style multipage app and, for a link straight to a page, runs that file alone,
skipping ``st.navigation``, the page set-up and the error guard below.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from dashboard import ui

VIEWS = Path(__file__).resolve().parent / "views"


def main() -> None:
    """Set up the page, build the navigation and run the chosen page behind the error guard."""
    st.set_page_config(page_title="AI4Loop Atlas", page_icon=":material/hub:", layout="wide")
    page = st.navigation(
        [
            st.Page(VIEWS / "overview.py", title="Overview", icon=":material/home:", default=True),
            st.Page(
                VIEWS / "landscape.py",
                title="Pan-cancer landscape",
                icon=":material/grid_on:",
                url_path="landscape",
            ),
            st.Page(
                VIEWS / "explorer.py",
                title="Gene / GGI explorer",
                icon=":material/search:",
                url_path="explorer",
            ),
            st.Page(
                VIEWS / "drugs.py",
                title="Drug screening",
                icon=":material/medication:",
                url_path="drugs",
            ),
            st.Page(
                VIEWS / "upload.py",
                title="Upload & predict",
                icon=":material/upload:",
                url_path="upload",
            ),
            st.Page(
                VIEWS / "models.py", title="Models", icon=":material/monitoring:", url_path="models"
            ),
        ]
    )
    st.sidebar.caption(
        "AI4Loop predicts gene-gene chromatin interactions (GGIs) from RNA-seq. "
        "Every view's choices are kept in the URL: copy it to share the view."
    )
    started = time.perf_counter()
    with ui.page_errors():
        page.run()
    # server time of this run, for the performance test and the log
    st.session_state["_run_seconds"] = time.perf_counter() - started


main()
