"""Training side of pixelsprite (torch): datasets, models, trainer, evaluation and ONNX export.

Nothing under ``pixelsprite/`` or ``bridge/`` may import this package; it imports the runtime (for the
manifest dataclasses, pixel-art metrics and post-processing) so that training, evaluation and the runtime
agree on one definition of each.
"""
