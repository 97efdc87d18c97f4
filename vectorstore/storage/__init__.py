"""On-disk storage of the embedded engine: manifest, segment files, WAL."""
