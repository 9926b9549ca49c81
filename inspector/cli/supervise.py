"""``inspect --timeout``: the run happens in a child process that is killed past its deadline.

Python cannot interrupt C code that never returns, and the HDF5 library loops forever on some corrupt files
(a damaged global heap, for one).  A pipeline that must get an answer for every file runs ``inspect`` with a
timeout: a child that hangs or crashes becomes exit 2 and one line on stderr, like any unreadable model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

SUPERVISED = "INSPECTOR_SUPERVISED"
"""Set in the child's environment, so the child does the work instead of supervising again."""


def supervised() -> bool:
    """Whether this process is the supervised child."""
    return os.environ.get(SUPERVISED) == "1"


def run_with_deadline(argv: Sequence[str], seconds: float, models: Sequence[str]) -> int:
    """Run ``inspect argv`` in a child with the same stdout and stderr; its exit code, or 2 on a hang or crash."""
    names = ", ".join(models)
    command = [sys.executable, "-m", "inspector", *argv]
    try:
        child = subprocess.run(command, env={**os.environ, SUPERVISED: "1"}, timeout=seconds, check=False)
    except subprocess.TimeoutExpired:
        print(f"inspect: error: {names}: no answer within {seconds:g} s (a corrupt file?)", file=sys.stderr)
        return 2
    if child.returncode < 0:
        print(f"inspect: error: {names}: reading crashed (signal {-child.returncode})", file=sys.stderr)
        return 2
    return child.returncode
