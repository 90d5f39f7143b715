"""Build an argparse CLI from frozen config dataclasses: one ``--field-name`` flag per field, defaults = recipe."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(cls.__name__)
    for f in dataclasses.fields(cls):
        flag = f"--{prefix}{f.name.replace('_', '-')}"
        hint, default = hints[f.name], f.default
        if hint is bool:
            group.add_argument(
                flag,
                type=lambda s: s.lower() in ("1", "true", "yes"),
                default=default,
                metavar="BOOL",
                help=f"(default: {default})",
            )
        elif typing.get_origin(hint) is tuple:
            group.add_argument(flag, type=int, nargs="+", default=default, help=f"(default: {default})")
        else:
            group.add_argument(flag, type=hint, default=default, help=f"(default: {default})")


def from_args(cls: type[T], args: argparse.Namespace, prefix: str = "") -> T:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        v = getattr(args, (prefix + f.name).replace("-", "_"))
        values[f.name] = tuple(v) if isinstance(v, list) else v
    return cls(**values)
