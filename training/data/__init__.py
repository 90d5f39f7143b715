"""Datasets of RGBA sprites for training: :mod:`pixelsprite.datasets`, re-exported under their old names.

The code lives in the runtime package (numpy and pillow only) so that the evaluation suite the runtime ships reads the
same held-out split without importing ``training``; ``training.data.builders``, ``.sprites`` and ``.reduce`` keep every
name importable from here.
"""
