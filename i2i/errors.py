"""Helpers for turning exceptions from deep inside libraries into one-line messages."""
from __future__ import annotations


def first_line(err: BaseException, limit: int = 200) -> str:
    """The first non-blank line of ``err``'s message (at most ``limit`` characters), or its type's name."""
    text = str(err).strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__
