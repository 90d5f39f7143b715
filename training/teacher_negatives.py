"""Negatives for the quality teacher: sprites a user would reject. Deterministic by seed; numpy only.

Two sources:

* **corruptions** of real sprites (:data:`CORRUPTIONS`, each ``fn(images, rng) -> images`` on uint8 RGBA
  ``(N, S, S, 4)``, any S): gaussian noise, blur, soft alpha, broken alpha (holes or a filled background), colour
  mush (washed towards the sprite's mean colour and ghosted with another sprite), posterisation, off-centre shifts
  and crops, palette explosions (many random colours). :func:`corrupt` applies one kind with a generator seeded
  from ``(seed, kind index)``, so the same call always gives the same bytes;
* **generated** sprites from shipped generators, decoded with pixelsprite's own runtime exactly as users get
  them (:func:`generated`; cached under ``.cache/teacher``, keyed by :func:`pool_key`: graphs, sampler defaults,
  decoding policy).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pixelsprite import families

if TYPE_CHECKING:
    from pixelsprite.registry import Registry

__all__ = ["CORRUPTIONS", "MIN_CHANGE", "changed", "corrupt", "corrupt_mixed", "generated", "available_generators"]

Corruption = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _opaque(x: np.ndarray) -> np.ndarray:
    return x[..., 3:4] >= 128


def _finish(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """float rgb (N,S,S,3), uint8-range alpha (N,S,S,1) -> uint8 RGBA; fully transparent pixels -> (0,0,0,0)."""
    a = np.clip(np.rint(alpha), 0, 255)
    out = np.concatenate([np.clip(np.rint(rgb), 0, 255), a], -1).astype(np.uint8)
    out[a[..., 0] == 0] = 0
    return out


def _blur3(x: np.ndarray) -> np.ndarray:
    """Binomial [1, 2, 1]/4 blur on both image axes of float (N, S, S, C), edges replicated."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    x = (p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]) / 4
    return (x[:, :, :-2] + 2 * x[:, :, 1:-1] + x[:, :, 2:]) / 4


def noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RGB + N(0, sigma), sigma 20..70 (uint8 units) per sprite; alpha kept."""
    sigma = rng.uniform(20, 70, (len(x), 1, 1, 1))
    rgb = x[..., :3].astype(np.float32) + rng.standard_normal(x[..., :3].shape, dtype=np.float32) * sigma
    return _finish(np.where(_opaque(x), rgb, 0), x[..., 3:4].astype(np.float32))


def blur(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1..3 binomial blurs of premultiplied RGBA, then hard alpha again at 128: mushy colours, rounded shapes."""
    a = x[..., 3:4].astype(np.float32) / 255
    pre = np.concatenate([x[..., :3] * a, a * 255], -1)
    rounds = rng.integers(1, 4, len(x))
    out = pre.copy()
    for r in range(1, 4):
        pre = _blur3(pre)
        out[rounds == r] = pre[rounds == r]
    alpha = out[..., 3:4]
    rgb = out[..., :3] / np.maximum(alpha / 255, 1e-3)
    return _finish(rgb, np.where(alpha >= 128, 255.0, 0.0))


def soft_alpha(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Alpha no longer 0/255: random per-pixel opacity (40..230) inside, or a blurred, semi-transparent edge."""
    a = x[..., 3:4].astype(np.float32)
    random = np.where(a > 0, rng.uniform(40, 230, a.shape), 0)
    edge = _blur3(_blur3(a)) * rng.uniform(0.5, 0.9, (len(x), 1, 1, 1))
    which = rng.random((len(x), 1, 1, 1)) < 0.5
    rgb = x[..., :3].astype(np.float32)
    rgb = np.where(a > 0, rgb, _blur3(rgb * (a > 0)) / np.maximum(_blur3((a > 0).astype(np.float32)), 1e-3))
    return _finish(rgb, np.where(which, random, edge))


def broken_alpha(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Holes (15..45% of opaque pixels dropped) or the transparent background filled with one solid colour."""
    out = x.copy()
    opaque = x[..., 3] >= 128
    has_bg = (~opaque).reshape(len(x), -1).mean(1) > 0.2
    fill = (rng.random(len(x)) < 0.5) & has_bg
    holes = rng.random(x.shape[:3]) < rng.uniform(0.15, 0.45, (len(x), 1, 1))
    out[~fill[:, None, None] & opaque & holes] = 0
    colour = rng.integers(0, 256, (len(x), 3))
    bg = fill[:, None, None] & ~opaque
    out[..., :3] = np.where(bg[..., None], colour[:, None, None, :], out[..., :3])
    out[..., 3] = np.where(bg, 255, out[..., 3])
    return out


def mush(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colours washed towards the sprite's mean colour (50..85%) and ghosted with another sprite of the batch."""
    op = _opaque(x)
    rgb = x[..., :3].astype(np.float32)
    mean = (rgb * op).sum((1, 2), keepdims=True) / np.maximum(op.sum((1, 2), keepdims=True), 1)
    t = rng.uniform(0.5, 0.85, (len(x), 1, 1, 1))
    washed = rgb * (1 - t) + mean * t
    other = x[rng.permutation(len(x))]
    ghost = rng.random((len(x), 1, 1, 1)) < 0.5
    o_op = _opaque(other)
    mixed = np.where(op & o_op, 0.5 * washed + 0.5 * other[..., :3], np.where(op, washed, other[..., :3]))
    alpha = np.where(ghost, np.maximum(x[..., 3:4], other[..., 3:4]), x[..., 3:4]).astype(np.float32)
    return _finish(np.where(ghost, mixed, washed), alpha)


def posterise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every channel cut to 2 levels (a random threshold per sprite): colours collapse into harsh primaries."""
    cut = rng.uniform(70, 185, (len(x), 1, 1, 1))
    q = np.where(x[..., :3] > cut, 255.0, 0.0)
    return _finish(np.where(_opaque(x), q, 0), x[..., 3:4].astype(np.float32))


def shift(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Off-centre: moved by S/4..S/2 pixels (cut at the border), or a random S/2..3S/4 crop zoomed back to S."""
    n, s = x.shape[:2]
    out = np.zeros_like(x)
    for i in range(n):
        if rng.random() < 0.6:
            dy, dx = (rng.integers(s // 4, s // 2 + 1, 2) * rng.choice([-1, 1], 2)).tolist()
            ys, yd = (slice(0, s - dy), slice(dy, s)) if dy >= 0 else (slice(-dy, s), slice(0, s + dy))
            xs, xd = (slice(0, s - dx), slice(dx, s)) if dx >= 0 else (slice(-dx, s), slice(0, s + dx))
            out[i, yd, xd] = x[i, ys, xs]
        else:
            c = int(rng.integers(s // 2, 3 * s // 4 + 1))
            y0, x0 = rng.integers(0, s - c + 1, 2)
            idx = np.arange(s) * c // s
            out[i] = x[i, y0 + idx][:, x0 + idx]
    return out


def palette_explosion(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random share (30..100%) of the opaque pixels take random colours: dozens of unrelated colours."""
    p = rng.uniform(0.3, 1.0, (len(x), 1, 1, 1))
    wild = rng.integers(0, 256, x[..., :3].shape)
    rgb = np.where(_opaque(x) & (rng.random(x[..., :1].shape) < p), wild, x[..., :3])
    return _finish(rgb.astype(np.float32), x[..., 3:4].astype(np.float32))


CORRUPTIONS: dict[str, Corruption] = {
    "noise": noise,
    "blur": blur,
    "soft_alpha": soft_alpha,
    "broken_alpha": broken_alpha,
    "mush": mush,
    "posterise": posterise,
    "shift": shift,
    "palette_explosion": palette_explosion,
}


MIN_CHANGE = 8.0
"""A corrupted sprite must differ from its source by at least this mean absolute RGBA difference (uint8 units)
over the pixels opaque in either; otherwise it is no negative (posterising a black-and-white icon changes
nothing) and :func:`changed` says so."""


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """bool (N,): whether each corrupted sprite differs visibly from its source (see :data:`MIN_CHANGE`)."""
    a, b = before.astype(np.int16), after.astype(np.int16)
    region = (a[..., 3] > 0) | (b[..., 3] > 0)
    diff = np.abs(a - b).mean(-1) * region
    return diff.sum((1, 2)) / np.maximum(region.sum((1, 2)), 1) >= MIN_CHANGE


def corrupt(images: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """uint8 RGBA ``(N, S, S, 4)`` -> the same shape, every sprite corrupted by ``kind`` (deterministic in seed).

    A few sprites may come back (almost) unchanged (e.g. posterising a two-colour icon): filter with :func:`changed`.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; one of {', '.join(CORRUPTIONS)}")
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] != 4 or x.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, S, S, 4), got {x.dtype} {x.shape}")
    rng = np.random.default_rng([seed, list(CORRUPTIONS).index(kind)])
    return CORRUPTIONS[kind](x, rng)


def corrupt_mixed(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each sprite corrupted by one kind drawn uniformly -> (uint8 images, int64 kind index per sprite).

    Sprites a kind left unchanged (:func:`changed`) get a palette explosion instead (and that kind's index).
    """
    kinds = np.random.default_rng([seed, 99]).integers(0, len(CORRUPTIONS), len(images))
    out = np.empty_like(images)
    for k, name in enumerate(CORRUPTIONS):
        idx = np.flatnonzero(kinds == k)
        if len(idx):
            out[idx] = corrupt(images[idx], name, seed)
    same = np.flatnonzero(~changed(images, out))
    if len(same):
        out[same] = corrupt(images[same], "palette_explosion", seed + 1)
        kinds[same] = list(CORRUPTIONS).index("palette_explosion")
    return out, kinds


# ------------------------------------------------------------------------------------------ generated
def available_generators(registry: Registry, sizes: tuple[int, ...] = (16, 40)) -> dict[str, int]:
    """Sprite generator bundles in ``registry`` (every family that can ``generate``; tile models excluded: a tile is
    not a sprite) -> their sprite size, for sizes in ``sizes``."""
    out = {}
    generators = families.families_with("generate")
    for b in registry.bundles():
        m = b.manifest
        if m.family not in generators or families.capabilities(m).tiling:
            continue
        if m.image.width == m.image.height and m.image.width in sizes:
            out[b.name] = m.image.width
    return out


def pool_key(bundle: str | Path) -> str:
    """What decides a bundle's sprites at its defaults, hashed (12 hex digits): its manifest without the metrics,
    the training record and the prose, so graph hashes, sampler defaults and decoding policy all count (a bundle
    re-exported with new defaults around the same graph gets a new key)."""
    manifest = json.loads((Path(bundle) / "manifest.json").read_text())
    for key in ("metrics", "training", "description"):
        manifest.pop(key, None)
    return hashlib.sha1(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:12]


def generated(
    registry: Registry,
    model: str,
    count: int,
    seed: int,
    cache_dir: str | Path | None = ".cache/teacher",
) -> np.ndarray:
    """``count`` sprites of ``model`` with seeds ``seed .. seed + count - 1``, made by ``pixelsprite.api.generate``
    with the model's defaults (what a user gets) -> uint8 ``(count, S, S, 4)``. Cached by :func:`pool_key`."""
    from pixelsprite import api

    key = pool_key(registry.info(model).path)
    path = Path(cache_dir) / f"{model}-{key}-{seed}-{count}.npz" if cache_dir else None
    if path is not None and path.exists():
        with np.load(path) as z:
            return z["sprites"]
    parts = []
    for s in range(0, count, 256):
        n = min(256, count - s)
        parts.append(api.generate(model, count=n, seed=seed + s, registry=registry).sprites)
    sprites = np.concatenate(parts)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, sprites=sprites)
        tmp.replace(path)
    return sprites
