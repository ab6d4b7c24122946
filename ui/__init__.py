"""The Streamlit layer shared by app.py and pages/: cached engine, the page guard, navigation."""
