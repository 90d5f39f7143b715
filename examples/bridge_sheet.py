"""Ask a running bridge for sprites and write a sheet (the sync client).

pixelsprite serve &                       # ws://127.0.0.1:8737
python examples/bridge_sheet.py --count 16 --seed 7 -o sheet.png [--url ws://127.0.0.1:8737] [--token T]
"""

from __future__ import annotations

import argparse

from pixelsprite.imageio import compose_sheet, write_png
from pixelsprite_bridge.client import DEFAULT_URL, SyncClient


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--token", default=None)
    p.add_argument("--model", default=None)
    p.add_argument("--count", type=int, default=16)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("-o", "--output", default="sheet.png")
    a = p.parse_args()
    with SyncClient(a.url, token=a.token) as c:
        hello = c.hello(client="examples/bridge_sheet.py")
        print(f"server {hello['version']}, protocol {hello['protocol']}, models {hello['models']}")
        sprites = c.generate(model=a.model, count=a.count, seed=a.seed)
        again = c.generate(model=a.model, count=1, seed=sprites.seeds[0])  # a seed reproduces its sprite
        assert (again.rgba[0] == sprites.rgba[0]).all()
    write_png(a.output, compose_sheet(sprites.rgba, scale=a.scale))
    print(f"{len(sprites)} sprites of {sprites.model}, seeds {sprites.seeds[0]}..{sprites.seeds[-1]} -> {a.output}")


if __name__ == "__main__":
    main()
