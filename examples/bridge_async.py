"""Concurrent requests, progress and cancel with the asyncio client.

    pixelsprite serve &
    python examples/bridge_async.py [--url ws://127.0.0.1:8737]

Sends eight small generates at once (the server micro-batches them), a large one with a progress bar, cancels a
second large one, and shows an error answer (``label`` on an unconditional model).
"""

from __future__ import annotations

import argparse
import asyncio

from pixelsprite_bridge.client import DEFAULT_URL, Client
from pixelsprite_bridge.errors import RemoteError


async def main(url: str) -> None:
    async with await Client.connect(url) as c:
        results = await asyncio.gather(*(c.generate(count=4, seed=100 * i) for i in range(8)))
        print("8 concurrent requests, batch sizes:", [r.message["batch"] for r in results])

        def bar(done: int, total: int) -> None:
            print(f"\r  {done}/{total} sprites", end="", flush=True)

        big = await c.generate(count=1000, seed=1, on_progress=bar, image_format="rgba")
        print(f"\n1000 sprites in {big.message['timing']['total_ms']:.0f} ms")

        rid, answer = await c.submit("generate", count=1024, seed=2)
        print("cancelled:", await c.cancel(rid), "->", (await answer).get("code"))

        try:
            await c.generate(count=1, label="mon")
        except RemoteError as e:
            print(f"error as expected: {e.code} (field {e.field}): {e.message}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=DEFAULT_URL)
    asyncio.run(main(p.parse_args().url))
