"""Write a file whole or not at all: into a temporary file beside it, renamed into place when complete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def _created_mode() -> int:
    """The permissions ``open()`` would give a new file (temporary files start private)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_file(target: str | Path, mode: str = "w") -> Iterator[IO]:
    """A stream (``mode`` ``"w"`` text, ``"wb"`` bytes) whose content replaces ``target`` when the block ends.

    When the block raises, the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".inspect-")
    try:
        with os.fdopen(descriptor, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as stream:
            yield stream
        os.chmod(temporary, _created_mode())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
