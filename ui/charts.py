"""The analytics page's colours and Plotly figures live in desk/charts.py (the monthly report draws the same
figures without Streamlit); this name stays for the page and its tests."""

from desk.charts import *  # noqa: F403
