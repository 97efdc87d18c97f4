"""Test helpers shared by test modules (importable as ``helpers``: tests/ is on sys.path)."""
