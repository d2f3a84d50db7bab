"""The AI4Loop Atlas dashboard: ``app.py`` (entry, ``st.navigation``), ``views/`` (one thin file
per page), ``query`` (every data question, DuckDB over the atlas Parquet tables), ``charts``
(Plotly figures), ``upload`` (upload & predict without Streamlit), ``ui`` (shared Streamlit
pieces), ``server`` (``ai4loop dashboard``) and ``fixtures`` (test and benchmark atlases)."""
