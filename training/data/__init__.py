"""Datasets of RGBA sprites: reading folders, pixel-art-aware resizing, builders for the shared collections."""
