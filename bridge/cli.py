"""The whole ``pixelsprite`` command line: the runtime's commands plus the bridge's ``serve`` and ``watch``.

This is the ``pixelsprite`` console script and what ``python -m pixelsprite`` runs. Layers point one way (runtime ←
bridge ← entry points): :mod:`pixelsprite.cli` knows nothing of the bridge, and this module adds the bridge's two
transports to it as :class:`pixelsprite.cli.Command`. The server (websockets) and the watcher (watchdog) are imported
only when their command runs, so ``pixelsprite generate`` starts without them.

    pixelsprite serve [--host 127.0.0.1] [--port 8737] [--token T] [--allow-origin O]... [--preview-every N]
                      [--preview-interval S] [--max-connections N]
    pixelsprite watch INBOX --out OUTBOX [--once] [--settle 0.5]   # job files -> sprites (docs/watch-folder.md)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pixelsprite import cli
from pixelsprite.errors import InvalidRequest
from pixelsprite.registry import Registry

__all__ = ["COMMANDS", "main"]


def _at_least_one(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_seconds(text: str) -> float:
    """argparse type: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text!r}")
    return value


# ------------------------------------------------------------------------------------------------------- serve
def _serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8737, help="TCP port, 0..65535 (default 8737; 0 picks a free one)")
    p.add_argument(
        "--token",
        default=os.environ.get("PIXELSPRITE_TOKEN"),
        help="require this shared token (default: $PIXELSPRITE_TOKEN, else none)",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser origin allowed to connect, e.g. http://localhost:5173 (repeatable)",
    )
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="log lines on stderr")
    p.add_argument(
        "--preview-every",
        type=_at_least_one,
        default=1,
        metavar="N",
        help='with "preview": true, a diffusion/flow preview at most every N sampler steps (default 1)',
    )
    p.add_argument(
        "--preview-interval",
        type=_non_negative_seconds,
        default=0.25,
        metavar="S",
        help="... and at most one preview per S seconds per request (default 0.25; 0: no limit)",
    )
    p.add_argument(
        "--max-connections",
        type=_at_least_one,
        default=None,
        metavar="N",
        help="open connections at most; more are refused with HTTP 503 (default: a quarter of the "
        "open-file limit, at most 256)",
    )


def _serve(args: argparse.Namespace, registry: Registry) -> int:
    from .server import serve_forever  # websockets: only when serving

    return serve_forever(
        registry=registry,
        host=args.host,
        port=args.port,
        token=args.token,
        allow_origins=args.allow_origin,
        log_format=args.log_format,
        preview_every=args.preview_every,
        preview_interval_s=args.preview_interval,
        max_connections=args.max_connections,
    )


# ------------------------------------------------------------------------------------------------------- watch
def _watch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inbox", help="folder job files (*.json) are dropped into; done/ and failed/ are made inside it")
    p.add_argument("--out", required=True, help="folder for one output folder per job and journal.jsonl")
    p.add_argument("--once", action="store_true", help="process the backlog and exit (2 if a job failed)")
    p.add_argument(
        "--settle",
        type=_non_negative_seconds,
        default=0.5,
        metavar="S",
        help="seconds a job file must be unchanged before it is read (default 0.5)",
    )
    p.add_argument(
        "--max-sprites", type=_at_least_one, default=4096, help="sprites per job, all requests (default 4096)"
    )
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="log lines on stderr")


def _watch(args: argparse.Namespace, registry: Registry) -> int:
    inbox = Path(args.inbox)
    if not inbox.exists():
        raise InvalidRequest(
            f"inbox {args.inbox!r} does not exist; create the folder first (the watcher makes "
            "done/ and failed/ inside it, never the inbox itself)",
            field="inbox",
        )
    if not inbox.is_dir():
        raise InvalidRequest(
            f"inbox {args.inbox!r} is not a folder; give the folder job files are dropped into", field="inbox"
        )
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise InvalidRequest(f"--out {args.out!r} is not a folder", field="out")

    from .watcher import watch_main  # watchdog: only when watching

    return watch_main(
        args.inbox,
        args.out,
        registry=registry,
        once=args.once,
        settle_s=args.settle,
        log_format=args.log_format,
        max_sprites=args.max_sprites,
    )


COMMANDS = (
    cli.Command("serve", "run the websocket bridge for editors (see docs/protocol.md)", _serve_arguments, _serve),
    cli.Command(
        "watch", "run job files dropped into INBOX, outputs to --out (docs/watch-folder.md)", _watch_arguments, _watch
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``pixelsprite`` console script: :func:`pixelsprite.cli.main` with ``serve`` and ``watch``."""
    return cli.main(argv, COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
