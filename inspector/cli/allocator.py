"""One malloc arena for the ``inspect`` process.

glibc gives every thread that allocates its own arena and keeps freed memory in each: onnxruntime's threads and
the engine's two recompute threads would each hold tens of megabytes that the others could reuse (measured with a
ResNet-50: 479–489 MB peak for ``inspect --validate`` with the default arenas, 427 MB with one).  The command
line owns its process, so it asks for one arena before any thread starts allocating; the Python API leaves the
allocator of the caller's process alone.  Elsewhere than glibc nothing is changed.
"""

from __future__ import annotations

import ctypes

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter for the most arenas threads may use."""


def share_one_arena() -> bool:
    """Ask glibc's malloc to serve every thread from one arena; whether it agreed."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library symbols to look at, or not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, 1))
