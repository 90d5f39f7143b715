"""Sprites as animations: GIF, APNG and WebP files (Pillow writes all three), and Godot ``SpriteFrames`` resources.

Frames are uint8 RGBA ``(N, H, W, 4)`` with hard alpha (as every pixelsprite result), upscaled by an integer factor
with nearest-neighbour, shown for ``duration_ms`` each, played ``loop`` times (0: forever):

* ``gif``: palette frames with one transparent index, each frame cleared before the next (disposal 2). GIF holds
  256 colours per frame, more than any pixelsprite sprite has;
* ``apng``: lossless RGBA frames, each replacing the last (dispose to background, blend source);
* ``webp``: lossless animated WebP;
* ``tres``: a Godot 4 ``SpriteFrames`` text resource with one animation whose frames are ``AtlasTexture`` regions of a
  sheet PNG written next to it (:func:`sprite_frames`); the sheet's ``.import`` gets pixel-art import settings, the
  same the Godot plugin writes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, features

from .errors import InvalidRequest

__all__ = [
    "ANIMATION_FORMATS",
    "MIN_DURATION_MS",
    "MAX_DURATION_MS",
    "encode_animation",
    "sprite_frames",
    "GODOT_IMPORT_SETTINGS",
]

ANIMATION_FORMATS = ("gif", "apng", "webp")
MIN_DURATION_MS, MAX_DURATION_MS = 10, 60_000

GODOT_IMPORT_SETTINGS = """[remap]

importer="texture"
type="CompressedTexture2D"

[params]

compress/mode=0
mipmaps/generate=false
process/fix_alpha_border=false
process/premult_alpha=false
detect_3d/compress_to=0
"""
"""A sheet's ``.import`` settings for Godot: lossless, no mipmaps, no alpha-border bleeding (as
``plugins/godot/addons/pixelsprite/sprite_files.gd`` writes them; Godot keeps the ``[params]`` of an existing file)."""


def _check_timing(duration_ms: int, loop: int) -> None:
    if (
        isinstance(duration_ms, bool)
        or not isinstance(duration_ms, (int, np.integer))
        or not MIN_DURATION_MS <= duration_ms <= MAX_DURATION_MS
    ):
        raise InvalidRequest(
            f"duration must be between {MIN_DURATION_MS} and {MAX_DURATION_MS} ms, got {duration_ms!r}",
            field="duration",
        )
    if isinstance(loop, bool) or not isinstance(loop, (int, np.integer)) or not 0 <= loop <= 65535:
        raise InvalidRequest(f"loop must be between 0 (forever) and 65535 plays, got {loop!r}", field="loop")


def encode_animation(frames: npt.ArrayLike, fmt: str, *, duration_ms: int = 100, loop: int = 0) -> bytes:
    """Encode RGBA frames ``(N, H, W, 4)`` as an animated ``gif``, ``apng`` or ``webp``.

    Args:
        frames: uint8 RGBA frames (already upscaled), N >= 1.
        fmt: one of :data:`ANIMATION_FORMATS`.
        duration_ms: how long each frame shows.
        loop: how many times the animation plays; 0 plays it forever.

    Raises:
        InvalidRequest: an unknown format (field ``format``), a duration or loop out of range, or a Pillow built
            without animated WebP.
    """
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 4 or arr.dtype != np.uint8 or arr.shape[0] < 1:
        raise ValueError(f"frames must be uint8 (N, H, W, 4) with N >= 1, got {arr.dtype} {arr.shape}")
    if fmt not in ANIMATION_FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(ANIMATION_FORMATS)}, got {fmt!r}", field="format")
    _check_timing(duration_ms, loop)
    images = [Image.fromarray(np.ascontiguousarray(f), mode="RGBA") for f in arr]
    buf = io.BytesIO()
    options: dict[str, Any] = {"save_all": True, "append_images": images[1:], "duration": int(duration_ms)}
    if fmt == "gif":
        # GIF's loop field counts repeats after the first play, and no field at all means "play once"
        if loop != 1:
            options["loop"] = 0 if loop == 0 else loop - 1
        images = [_gif_frame(f) for f in arr]
        options["append_images"] = images[1:]
        images[0].save(buf, format="GIF", disposal=2, optimize=False, **options)
    elif fmt == "apng":
        images[0].save(buf, format="PNG", loop=int(loop), disposal=1, blend=0, default_image=False, **options)
    else:
        if not features.check("webp"):
            raise InvalidRequest("this Pillow was built without WebP support; use --format gif or apng", field="format")
        images[0].save(buf, format="WEBP", loop=int(loop), lossless=True, quality=100, method=4, exact=True, **options)
    return buf.getvalue()


def _gif_frame(rgba: np.ndarray) -> Image.Image:
    """One RGBA frame as a palette image whose index 0 is transparent (sprites have hard alpha: no blending)."""
    opaque = rgba[..., 3] > 0
    colours, inverse = np.unique(rgba[..., :3][opaque].reshape(-1, 3), axis=0, return_inverse=True)
    if len(colours) > 255:  # not a pixelsprite sprite: let Pillow reduce it
        rgb = Image.fromarray(np.ascontiguousarray(rgba[..., :3]), mode="RGB").quantize(255, dither=Image.Dither.NONE)
        pal = np.asarray((rgb.getpalette() or [])[: 255 * 3], dtype=np.uint8).reshape(-1, 3)
        idx = np.asarray(rgb, dtype=np.uint8) + 1
        colours = pal
    else:
        idx = np.zeros(rgba.shape[:2], np.uint8)
        idx[opaque] = inverse.reshape(-1) + 1
    idx = np.where(opaque, idx, 0).astype(np.uint8)
    im = Image.fromarray(idx, mode="P")
    palette = np.zeros((256, 3), np.uint8)
    palette[1 : 1 + len(colours)] = colours
    im.putpalette(palette.reshape(-1).tolist())
    im.info["transparency"] = 0
    return im


def sprite_frames(
    sheet_file: str,
    regions: Sequence[tuple[int, int, int, int]],
    *,
    duration_ms: int = 100,
    loop: int = 0,
    animation: str = "default",
) -> str:
    """A Godot 4 ``SpriteFrames`` text resource: one animation whose frames are ``AtlasTexture`` regions of a sheet.

    Args:
        sheet_file: the sheet PNG's path as the resource refers to it: a ``res://`` path, or a path relative to the
            ``.tres`` file (Godot resolves a relative ``ext_resource`` path against the resource's folder).
        regions: ``(x, y, w, h)`` of each frame in the sheet, in playing order.
        duration_ms: each frame's time (the animation's ``speed`` is ``1000 / duration_ms`` frames per second).
        loop: 0 loops the animation; any other count plays it once (a ``SpriteFrames`` animation loops or not).
        animation: the animation's name.
    """
    _check_timing(duration_ms, loop)
    esc = sheet_file.replace("\\", "\\\\").replace('"', '\\"')
    lines = [
        f'[gd_resource type="SpriteFrames" load_steps={len(regions) + 2} format=3]',
        "",
        f'[ext_resource type="Texture2D" path="{esc}" id="1_sheet"]',
        "",
    ]
    for i, (x, y, w, h) in enumerate(regions):
        lines += [
            f'[sub_resource type="AtlasTexture" id="AtlasTexture_{i}"]',
            'atlas = ExtResource("1_sheet")',
            f"region = Rect2({int(x)}, {int(y)}, {int(w)}, {int(h)})",
            "",
        ]
    frames = ", ".join(
        f'{{\n"duration": 1.0,\n"texture": SubResource("AtlasTexture_{i}")\n}}' for i in range(len(regions))
    )
    name = animation.replace("\\", "\\\\").replace('"', '\\"')
    speed = 1000.0 / float(duration_ms)
    lines += [
        "[resource]",
        f'animations = [{{\n"frames": [{frames}],\n"loop": {"true" if loop == 0 else "false"},'
        f'\n"name": &"{name}",\n"speed": {speed!r}\n}}]',
        "",
    ]
    return "\n".join(lines)
