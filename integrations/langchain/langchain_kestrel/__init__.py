"""LangChain adapter (placeholder while it is built)."""
