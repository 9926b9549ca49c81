"""Text from a model file made safe to print: characters that could drive a terminal are written as escapes.

A name in a file may hold ESC (``\\x1b[2J`` clears the screen), C1 controls (``\\x9b`` is a CSI of its own),
DEL, a newline that splits a one-line message, or a bidi override (``\\u202e``) that reorders the line around it.
Every character Python does not count as printable (control, format, surrogate, separator other than space,
private use, unassigned) is written as ``repr`` writes it; everything else, backslashes included, stays as it is.
"""

from __future__ import annotations


def _escaped(character: str) -> str:
    return character if character.isprintable() else repr(character)[1:-1]


def visible(text: str) -> str:
    """``text`` with every character that is not printable written as an escape (``\\x1b``, ``\\n``, ``\\u202e``)."""
    if text.isprintable():
        return text  # the common case, checked in C
    return "".join(map(_escaped, text))
