"""The refund desk's use cases. Owns transactions; importable without Streamlit."""
