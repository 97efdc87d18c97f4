"""Kestrel side by side with other embedded vector stores (see README.md here)."""
