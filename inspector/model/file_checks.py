"""Whether a path names a file the tool may read, told in one line: the model file, and files a model points to.

Only regular files are read: a pipe would block, a device never ends.  The reason a path cannot be read comes from
the system's own answer (``stat``): a symbolic link loop, a name too long, a missing file or a dangling link, a
folder that cannot be entered; never an exception that escapes as a bug.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from inspector.errors import LoadError

_REASONS = {
    errno.ELOOP: "too many levels of symbolic links (they loop, or chain past what the system follows)",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.EACCES: "permission denied",
    errno.ENOTDIR: "a part of the path is not a folder",
}


def unreadable_reason(error: OSError, path: Path) -> str:
    """Why ``path`` could not be looked at, from the error ``stat`` or ``open`` raised."""
    if error.errno == errno.ENOENT:
        return "no such file (a symbolic link to a missing file)" if path.is_symlink() else "no such file"
    return _REASONS.get(error.errno or 0, error.strerror or type(error).__name__)


def resolved(path: Path, label: str) -> Path:
    """``path`` with every symbolic link followed, or a ``LoadError`` starting with ``label`` when they loop."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as error:  # Python before 3.13 raises RuntimeError on a loop
        reason = unreadable_reason(error, path) if isinstance(error, OSError) else _REASONS[errno.ELOOP]
        raise LoadError(f"{label}: {reason}") from None


def regular_file_size(path: Path, label: str) -> int:
    """The size of ``path`` when it is a regular file the tool may read, else a ``LoadError`` starting with
    ``label`` (the file, or what points to it) and saying why."""
    try:
        info = path.stat()
    except OSError as error:
        raise LoadError(f"{label}: {unreadable_reason(error, path)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise LoadError(f"{label}: is a directory, not a regular file")
    if not stat.S_ISREG(info.st_mode):
        raise LoadError(f"{label}: not a regular file (a pipe or device is never read)")
    if not os.access(path, os.R_OK):
        raise LoadError(f"{label}: permission denied")
    return info.st_size
