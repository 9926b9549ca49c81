"""The hooks a conv-inspector plugin can implement.

A plugin is a module or object with functions marked ``@inspector.hookimpl`` whose names match these specs.  A
format's plugin implements ``load_model``, and ``capture_layers`` and/or ``run_layer`` so that validation can run its
models; analyzers implement ``analyze_model``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pluggy

from inspector.model.common import ConvLayer, Model
from inspector.model.findings import Finding
from inspector.options import Options
from inspector.validation.captured import Captured, LayerRun, ModelInputs

if TYPE_CHECKING:
    from inspector.validation.runtime import RuntimeSettings

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
    the others still run.  One that works through the layers one at a time may tell ``options.progress`` of each
    layer it finishes (the progress bar of ``inspect``).
    """


@hookspec(firstresult=True)
def capture_layers(
    model: Model,
    layers: Sequence[ConvLayer],
    feeds: Callable[[], ModelInputs],
    runtime: RuntimeSettings,
    budget_bytes: float,
) -> Iterator[Captured] | None:
    """Run the whole model in onnxruntime (as ``runtime`` says) and yield what each of ``layers`` saw.

    Return ``None`` when ``model`` is not of this plugin's format, else an iterator of ``Captured`` for the layers
    the plugin can capture (others are left out: validation runs them alone through ``run_layer``).  Call
    ``feeds()`` for the model's input arrays (``.arrays``) and the sizes of named dims (``.symbols``) only when the
    model is run.  Keep at most ``budget_bytes`` of captured tensors alive at once (several runs if need be).  Raise
    ``RuntimeRefusal`` (:mod:`inspector.validation.runtime`) when onnxruntime cannot run the model: validation then
    runs every layer alone.
    """


@hookspec(firstresult=True)
def run_layer(model: Model, layer: ConvLayer, x: np.ndarray, runtime: RuntimeSettings) -> LayerRun | None:
    """Run ``layer`` of ``model`` alone in onnxruntime on the input ``x`` and return its output.

    Return ``None`` when ``model`` is not of this plugin's format.  Raise ``NotExportable``
    (:mod:`inspector.validation.standalone`) when the layer cannot be run alone (validation skips it with the
    reason), ``RuntimeRefusal`` when onnxruntime refuses it.  :func:`inspector.validation.standalone.run_standalone`
    runs any conv of the common model; a plugin may run its layers otherwise.
    """
