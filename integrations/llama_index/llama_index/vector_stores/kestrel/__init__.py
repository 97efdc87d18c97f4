"""LlamaIndex adapter (placeholder while it is built)."""
