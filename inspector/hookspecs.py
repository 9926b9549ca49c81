"""The hooks a conv-inspector plugin can implement.

A plugin is a module or object with functions marked ``@inspector.hookimpl`` whose names match these specs.
"""

from __future__ import annotations

from pathlib import Path

import pluggy

from inspector.model.common import Model
from inspector.model.findings import Finding
from inspector.options import Options

hookspec = pluggy.HookspecMarker("inspector")
hookimpl = pluggy.HookimplMarker("inspector")


@hookspec(firstresult=True)
def load_model(path: Path, options: Options) -> Model | None:
    """Read the model file at ``path``.

    Return a ``Model`` when the file is of this plugin's format, ``None`` for "not my format" (the next loader
    is asked).  Raise ``inspector.LoadError`` for "my format, but broken".  The first non-``None`` answer wins;
    built-in loaders are ``trylast`` so an installed plugin can take a format over.
    """


@hookspec
def analyze_model(model: Model, options: Options) -> list[Finding] | None:
    """Check ``model`` and return findings (an empty list or ``None`` when there is nothing to say).

    Every analyzer runs.  One that raises becomes an ``error`` finding of check ``plugin`` naming it, and
    the others still run.
    """
