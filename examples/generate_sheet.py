"""Generate a sprite sheet, a few variations and an interpolation strip with the Python API.

    python examples/generate_sheet.py [--models-dir DIR] [--model vae16] [--out out/]

Uses only the runtime (numpy + onnxruntime + pillow). The same operations back the CLI
(`pixelsprite generate ...`) and the bridge.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pixelsprite
from pixelsprite import compose_sheet, write_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", action="append", default=[])
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    registry = pixelsprite.Registry(args.models_dir)

    sheet = pixelsprite.generate(args.model, count=64, seed=7, registry=registry)
    write_png(args.out / "sheet.png", compose_sheet(sheet.sprites, scale=4))
    print(json.dumps(sheet.summary()))

    # Sprite 3 of the sheet, regenerated alone from its seed: identical bytes.
    one = pixelsprite.generate(args.model, count=1, seed=sheet.seeds[3], registry=registry)
    assert one.sprites[0].tobytes() == sheet.sprites[3].tobytes()

    if registry.load(sheet.model).has_graph("encoder"):
        var = pixelsprite.variations(sheet.model, sheet.sprites[3], count=8, strength=0.5, seed=1, registry=registry)
        write_png(args.out / "variations.png", compose_sheet(var.sprites, columns=8, scale=4))

    strip = pixelsprite.interpolate(sheet.model, 7, 8, count=8, method="slerp", registry=registry)
    write_png(args.out / "strip.png", compose_sheet(strip.sprites, columns=8, scale=4))
    print(f"wrote {args.out}/sheet.png, variations.png, strip.png")


if __name__ == "__main__":
    main()
