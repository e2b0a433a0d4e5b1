"""The package version (a leaf, so that any layer can report it)."""
__version__ = "0.1.0"
