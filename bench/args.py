"""Argument types the benchmarks share."""

from __future__ import annotations

import argparse

from healthapi import datatypes


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return value


def data_types(text: str) -> list[str]:
    """Comma-separated data type names, each one the catalogue knows."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one data type, e.g. steps,exercise")
    for name in names:
        try:
            datatypes.spec(name)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return names
