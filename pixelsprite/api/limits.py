"""The request layer's limits: module constants, also named in the error messages.

=================  =====================  ==================================================
field              limit                  note
=================  =====================  ==================================================
count              1 .. 1024              sprites per generate / variations / inpaint request
count (interp.)    2 .. 64                interpolation frames, endpoints included
images, latents    1 .. 1024              items per encode / decode request
rows, cols         2 .. 16                grid size
strength           0.0 .. 2.0             VAE variation noise scale (latent standard deviations); 0.0 .. 1.0
                                          for diffusion/flow (noise level) and pixel (share of pixels re-drawn)
seed               0 .. 2**53 - 1         JSON-safe; ``seed + count * candidates - 1`` must fit as well
max_colors         0 .. 256               None: the manifest's default; 0: no colour reduction
method             "lerp" | "slerp"
label              a name of the model's  conditional models only; None: unconditional (the null label)
steps              1 .. 1000              sampler steps; also <= the model's max
solver             the model's solvers    diffusion: ``ddpm``, ``ddim``; flow: ``euler``, ``midpoint``, ``heun``
guidance           0.0 .. 20.0            classifier-free guidance: 0 unconditional, 1 conditional, > 1 stronger
temperature        (0.0, 2.0]             pixel models: the softmax temperature of each draw
palette            built-in name, colour  map the sprites onto it (see :mod:`pixelsprite.palettes`); a palette
                   list or palette file   file is read when the request runs, never when it is built
dither             "none" | "bayer2" |    ordered dithering while mapping onto ``palette`` (needs a palette)
                   "bayer4"
alpha_threshold    0 .. 255               input images are opaque where alpha > it (default 127)
despeckle          true | false           lone pixels take their most common neighbour colour
outline            "#rrggbb" | "darkest"  1-pixel outline on transparent pixels next to opaque ones
                   | null                 ("darkest": of the palette if given, else of each sprite)
colors             1 .. 256               palette op: colours in the proposed palette
format             gpl hex pal act png    palette op: the file format returned with the proposal
                   tres
candidates         1 .. 16                generate, variations, interpolate: the teacher's pick of C per sprite
teacher            a teacher bundle name  the model that scores (default ``teacher``)
images             1 .. 1024              score, similar: sprites to score / rank (16x16 or 40x40)
top                1 .. 1024              similar: return only the ``top`` most similar
=================  =====================  ==================================================
"""

from __future__ import annotations

from ..iterative import MAX_GUIDANCE
from ..pixel import MAX_TEMPERATURE

__all__ = [
    "MAX_COUNT", "MIN_FRAMES", "MAX_FRAMES", "MIN_GRID", "MAX_GRID", "MAX_STRENGTH", "MAX_SEED", "MAX_COLORS",
    "METHODS", "MAX_SAMPLE_STEPS", "MAX_CANDIDATES", "CANDIDATE_JITTER", "MAX_GUIDANCE", "MAX_TEMPERATURE",
]  # fmt: skip

MAX_COUNT = 1024
MIN_FRAMES, MAX_FRAMES = 2, 64  # interpolate: frames (count), endpoints included
MIN_GRID, MAX_GRID = 2, 16
MAX_STRENGTH = 2.0
MAX_SEED = 2**53 - 1
MAX_COLORS = 256
METHODS = ("lerp", "slerp")
MAX_SAMPLE_STEPS = 1000
MAX_CANDIDATES = 16
CANDIDATE_JITTER = 0.15
"""Interpolate candidates: the latent noise scale of jittered candidates (latent standard deviations)."""
