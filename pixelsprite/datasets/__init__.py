"""Datasets of RGBA sprites: reading folders, pixel-art-aware 2x reduction, builders for the shared collections.

numpy and pillow only. Training builds its datasets with these modules and the evaluation suite
(:mod:`pixelsprite.evaluation`) reads the held-out split the models were trained without from the same code;
``training.data`` re-exports them.
"""
