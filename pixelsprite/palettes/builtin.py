"""Built-in palettes, typed from their published colour lists (order as published).

=============  ====  ======================================================================================
name           size  source
=============  ====  ======================================================================================
pico-8         16    PICO-8 fantasy console system palette, Lexaloffle Games (lospec.com/palette-list/pico-8)
db16           16    DawnBringer's 16 colour palette, Richard "DawnBringer" Fhager, PixelJoint (dawnbringer-16)
db32           32    DawnBringer's 32 colour palette, Richard "DawnBringer" Fhager, PixelJoint (dawnbringer-32)
endesga-16     16    ENDESGA 16 by ENDESGA (lospec.com/palette-list/endesga-16)
endesga-32     32    ENDESGA 32 by ENDESGA (lospec.com/palette-list/endesga-32)
aap-64         64    AAP-64 by Adigun A. Polack (lospec.com/palette-list/aap-64)
resurrect-64   64    Resurrect 64 by Kerrie Lake (lospec.com/palette-list/resurrect-64)
sweetie-16     16    Sweetie 16 by GrafxKid (lospec.com/palette-list/sweetie-16)
lospec500      42    Lospec500, a collaboration of the Lospec community (lospec.com/palette-list/lospec500)
gameboy-dmg    4     Game Boy (DMG-01) green LCD shades as commonly published, darkest first
nes            55    NES 2C02: the distinct colours of the widely used 64-entry RGB table, duplicate blacks dropped
cga            16    IBM CGA/EGA 16-colour RGBI palette (0x00/0x55/0xaa/0xff levels, brown at aa5500)
=============  ====  ======================================================================================

Names are matched case-insensitively, ignoring spaces, ``-`` and ``_``; aliases (``pico8``, ``dawnbringer-32``,
``edg32``, ``gameboy``, ``dmg``, ...) resolve to the names above. Tests pin each palette's size and its first and
last colours.
"""

from __future__ import annotations

import re

from ..errors import InvalidRequest
from .model import Palette

__all__ = ["BUILTIN", "builtin", "builtin_names", "normalize_name"]


def _p(name: str, source: str, hexes: str) -> Palette:
    return Palette.from_colors(name, [f"#{h}" for h in hexes.split()], source)


_PALETTES = (
    _p(
        "pico-8",
        "PICO-8 fantasy console system palette, Lexaloffle Games; lospec.com/palette-list/pico-8",
        "000000 1d2b53 7e2553 008751 ab5236 5f574f c2c3c7 fff1e8 ff004d ffa300 ffec27 00e436 29adff 83769c ff77a8 "
        "ffccaa",
    ),
    _p(
        "db16",
        "DawnBringer 16 by Richard 'DawnBringer' Fhager (PixelJoint); lospec.com/palette-list/dawnbringer-16",
        "140c1c 442434 30346d 4e4a4e 854c30 346524 d04648 757161 597dce d27d2c 8595a1 6daa2c d2aa99 6dc2ca dad45e "
        "deeed6",
    ),
    _p(
        "db32",
        "DawnBringer 32 by Richard 'DawnBringer' Fhager (PixelJoint); lospec.com/palette-list/dawnbringer-32",
        "000000 222034 45283c 663931 8f563b df7126 d9a066 eec39a fbf236 99e550 6abe30 37946e 4b692f 524b24 323c39 "
        "3f3f74 306082 5b6ee1 639bff 5fcde4 cbdbfc ffffff 9badb7 847e87 696a6a 595652 76428a ac3232 d95763 d77bba "
        "8f974a 8a6f30",
    ),
    _p(
        "endesga-16",
        "ENDESGA 16 by ENDESGA; lospec.com/palette-list/endesga-16",
        "e4a672 b86f50 743f39 3f2832 9e2835 e53b44 fb922b ffe762 63c64d 327345 193d3f 4f6781 afbfd2 ffffff 2ce8f4 "
        "0484d1",
    ),
    _p(
        "endesga-32",
        "ENDESGA 32 by ENDESGA; lospec.com/palette-list/endesga-32",
        "be4a2f d77643 ead4aa e4a672 b86f50 733e39 3e2731 a22633 e43b44 f77622 feae34 fee761 63c74d 3e8948 265c42 "
        "193c3e 124e89 0099db 2ce8f5 ffffff c0cbdc 8b9bb4 5a6988 3a4466 262b44 181425 ff0044 68386c b55088 f6757a "
        "e8b796 c28569",
    ),
    _p(
        "aap-64",
        "AAP-64 by Adigun A. Polack; lospec.com/palette-list/aap-64",
        "060608 141013 3b1725 73172d b4202a df3e23 fa6a0a f9a31b ffd541 fffc40 d6f264 9cdb43 59c135 14a02e 1a7a3e "
        "24523b 122020 143464 285cc4 249fde 20d6c7 a6fcdb ffffff fef3c0 fad6b8 f5a097 e86a73 bc4a9b 793a80 403353 "
        "242234 221c1a 322b28 71413b bb7547 dba463 f4d29c dae0ea b3b9d1 8b93af 6d758d 4a5462 333941 422433 5b3138 "
        "8e5252 ba756a e9b5a3 e3e6ff b9bffb 849be4 588dbe 477d85 23674e 328464 5daf8d 92dcba cdf7e2 e4d2aa c7b08b "
        "a08662 796755 5a4e44 423934",
    ),
    _p(
        "resurrect-64",
        "Resurrect 64 by Kerrie Lake; lospec.com/palette-list/resurrect-64",
        "2e222f 3e3546 625565 966c6c ab947a 694f62 7f708a 9babb2 c7dcd0 ffffff 6e2727 b33831 ea4f36 f57d4a ae2334 "
        "e83b3b fb6b1d f79617 f9c22b 7a3045 9e4539 cd683d e6904e fbb954 4c3e24 676633 a2a947 d5e04b fbff86 165a4c "
        "239063 1ebc73 91db69 cddf6c 313638 374e4a 547e64 92a984 b2ba90 0b5e65 0b8a8f 0eaf9b 30e1b9 8ff8e2 323353 "
        "484a77 4d65b4 4d9be6 8fd3ff 45293f 6b3e75 905ea9 a884f3 eaaded 753c54 a24b6f cf657f ed8099 831c5d c32454 "
        "f04f78 f68181 fca790 fdcbb0",
    ),
    _p(
        "sweetie-16",
        "Sweetie 16 by GrafxKid; lospec.com/palette-list/sweetie-16",
        "1a1c2c 5d275d b13e53 ef7d57 ffcd75 a7f070 38b764 257179 29366f 3b5dc9 41a6f6 73eff7 f4f4f4 94b0c2 566c86 "
        "333c57",
    ),
    _p(
        "lospec500",
        "Lospec500, made by the Lospec community for Lospec's 500th palette; lospec.com/palette-list/lospec500",
        "10121c 2c1e31 6b2643 ac2847 ec273f 94493a de5d3a e98537 f3a833 4d3533 6e4c30 a26d3f ce9248 dab163 e8d282 "
        "f7f3b7 1e4044 006554 26854c 5ab552 9de64e 008b8b 62a477 a6cb96 d3eed3 3e3b65 3859b3 3388de 36c5f4 6dead6 "
        "5e5b8c 8c78a5 b0a7b8 deceed 9a4d76 c878af cc99ff fa6e79 ffa2ac ffd1d5 f6e8e0 ffffff",
    ),
    _p(
        "gameboy-dmg",
        "Game Boy (DMG-01) green LCD shades as commonly published (0f380f 306230 8bac0f 9bbc0f), darkest first",
        "0f380f 306230 8bac0f 9bbc0f",
    ),
    _p(
        "nes",
        "NES 2C02 palette: the 55 distinct colours of the widely used 64-entry RGB table (rows 0x00-0x3f, "
        "duplicate blacks dropped), in table order; the NES has no single canonical RGB rendering",
        "7c7c7c 0000fc 0000bc 4428bc 940084 a80020 a81000 881400 503000 007800 006800 005800 004058 000000 "
        "bcbcbc 0078f8 0058f8 6844fc d800cc e40058 f83800 e45c10 ac7c00 00b800 00a800 00a844 008888 "
        "f8f8f8 3cbcfc 6888fc 9878f8 f878f8 f85898 f87858 fca044 f8b800 b8f818 58d854 58f898 00e8d8 787878 "
        "fcfcfc a4e4fc b8b8f8 d8b8f8 f8b8f8 f8a4c0 f0d0b0 fce0a8 f8d878 d8f878 b8f8b8 b8f8d8 00fcfc f8d8f8",
    ),
    _p(
        "cga",
        "IBM CGA/EGA 16-colour RGBI palette (IBM 5153 rendering: levels 00/55/aa/ff, brown aa5500)",
        "000000 0000aa 00aa00 00aaaa aa0000 aa00aa aa5500 aaaaaa 555555 5555ff 55ff55 55ffff ff5555 ff55ff ffff55 "
        "ffffff",
    ),
)

BUILTIN: dict[str, Palette] = {p.name: p for p in _PALETTES}
"""The built-in palettes by canonical name, in the order of the table above."""

_ALIASES = {
    "pico8": "pico-8", "dawnbringer16": "db16", "dawnbringer32": "db32", "edg16": "endesga-16",
    "edg32": "endesga-32", "aap64": "aap-64", "resurrect64": "resurrect-64", "sweetie16": "sweetie-16",
    "gameboy": "gameboy-dmg", "gameboydmg": "gameboy-dmg", "dmg": "gameboy-dmg", "gb": "gameboy-dmg",
    "endesga16": "endesga-16", "endesga32": "endesga-32", "lospec500": "lospec500", "nes": "nes", "cga": "cga",
    "db16": "db16", "db32": "db32",
}  # fmt: skip


def normalize_name(name: str) -> str:
    """Lower case without spaces, ``-``, ``_`` or ``.``: ``"PICO-8"`` -> ``"pico8"``."""
    return re.sub(r"[\s\-_.]", "", name.lower())


def builtin_names() -> tuple[str, ...]:
    """The canonical built-in names, in table order."""
    return tuple(BUILTIN)


def builtin(name: str) -> Palette:
    """The built-in palette called ``name`` (case, spaces, ``-`` and ``_`` ignored; aliases allowed).

    Raises:
        InvalidRequest: (field ``palette``) naming the valid built-in names.
    """
    key = normalize_name(name)
    canonical = _ALIASES.get(key) or next((n for n in BUILTIN if normalize_name(n) == key), None)
    if canonical is None:
        raise InvalidRequest(f"unknown palette {name!r}; built-in palettes: {', '.join(BUILTIN)}", field="palette")
    return BUILTIN[canonical]


def lookup(name: str) -> Palette | None:
    """Like :func:`builtin`, but None for an unknown name."""
    try:
        return builtin(name)
    except InvalidRequest:
        return None
