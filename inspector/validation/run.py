"""Layer-by-layer validation: every conv layer computed by onnxruntime and by the NumPy engine, and compared.

What a model's format must supply comes through two hooks (:mod:`inspector.hookspecs`), which the format's plugin
answers: ``capture_layers`` runs the whole model in onnxruntime on seeded random inputs (or the user's ``.npz``)
and hands back what each conv it can capture saw and computed; every other conv goes through ``run_layer``, alone,
on a seeded input of its input shape.  The engine recomputes each layer from the same input, summing in float64,
and the outputs compare under the rounding bound of :mod:`inspector.validation.rounding` (what onnxruntime's own
rounding can explain, element by element); results are :mod:`inspector.validation.result` objects.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pluggy

from inspector.errors import ConvolutionError, ValidationError
from inspector.model.common import ConvLayer, Model
from inspector.model.transient_reads import TransientReads
from inspector.plugin_manager import get_plugin_manager, load_model
from inspector.validation.blas_threads import blas_threads
from inspector.validation.compare import Comparison, compare
from inspector.validation.inputs import Feeds, file_feeds, layer_rng, random_array, random_feeds
from inspector.validation.limits import check_declared, check_layer, check_weight, dtype_of, standalone_output_shape
from inspector.validation.options import ValidationOptions
from inspector.validation.rerun import rerun
from inspector.validation.result import LayerValidation, Mode, Status, ValidationResult
from inspector.validation.rounding import rounding_bound, weights_repeat
from inspector.validation.runtime import (
    RuntimeRefusal,
    RuntimeSettings,
    accumulation_dtype,
    installed_providers,
)
from inspector.validation.standalone import NotExportable, standalone_input_shape

CPU_PROVIDERS = frozenset({"CPUExecutionProvider"})
"""Providers whose conv kernels sum products in the data's own floating-point type, as the bound assumes."""
ENGINE_BLAS_THREADS = 1
"""Threads of NumPy's BLAS while the engine recomputes layers (:mod:`inspector.validation.blas_threads`)."""
RERUN_THREADS = 2
"""Captured layers the engine recomputes and compares at once, one per thread (NumPy lets go of the GIL while it
computes); results are recorded in model order, and at most this many layers' operands more are held."""
Progress = Callable[[str, int, int], None]
"""Called after each layer with its name, the number of layers done and the total."""


def validate(
    model_or_path: Model | str | Path,
    options: ValidationOptions | None = None,
    *,
    progress: Progress | None = None,
    plugin_manager: pluggy.PluginManager | None = None,
    **settings: object,
) -> ValidationResult:
    """Validate every conv layer of a model against onnxruntime.

    Parameters
    ----------
    model_or_path
        A loaded model, or a model file to load.
    options
        A :class:`ValidationOptions`; keyword ``settings`` (``seed=3``, ``atol=1e-4``, ``layer_atol={...}``)
        replace its fields.
    progress
        Called after each layer (name, done, total).
    plugin_manager
        Loads a path and answers the validation hooks; a new one (built-ins and installed plugins) by default.

    Raises
    ------
    InspectorError
        ``LoadError`` for a file that cannot be read, ``ValidationError`` for bad options (a per-layer tolerance
        naming no conv layer, an input shape that contradicts the model, an unreadable ``.npz``, an execution
        provider that is not installed).
    """
    chosen = dataclasses.replace(options or ValidationOptions(), **settings)  # type: ignore[arg-type]
    manager = plugin_manager or get_plugin_manager()
    if isinstance(model_or_path, Model):
        model = model_or_path
    else:
        model = load_model(model_or_path, manager, input_shapes=chosen.input_shapes)
    conv_names = {layer.name for layer in model.conv_layers}
    unknown = sorted(chosen.named_layers() - conv_names)
    if unknown:
        raise ValidationError(
            f"a tolerance names {unknown[0]!r}, not a conv layer of {model.path} "
            f"(conv layers: {', '.join(sorted(conv_names)) or 'none'})"
        )
    runtime = RuntimeSettings(
        providers=installed_providers(chosen.providers),
        graph_optimization=chosen.graph_optimization,
        threads=chosen.threads,
    )
    return _Validation(model, chosen, runtime, manager, progress).run()


class _Validation:
    """One validation run over a model's conv layers."""

    def __init__(
        self,
        model: Model,
        options: ValidationOptions,
        runtime: RuntimeSettings,
        manager: pluggy.PluginManager,
        progress: Progress | None,
    ) -> None:
        self.model = model
        self.manager = manager
        self.options = options
        self.runtime = runtime
        self.progress = progress
        self.results: dict[str, LayerValidation] = {}
        self.notes: list[str] = []
        self.inputs: dict[str, object] = {"source": "random", "seed": options.seed, "file": None, "tensors": []}
        self.capture_runs = 0
        self._given: Feeds | None = None
        self._reads = TransientReads(model.conv_layers)

    def run(self) -> ValidationResult:
        layers = self.model.conv_layers
        with blas_threads(ENGINE_BLAS_THREADS):
            self._captured(layers)
            for layer in layers:
                if layer.name not in self.results:
                    self._record(layer, self._standalone(layer))
        other = sorted({p for result in self.results.values() for p in result.providers} - CPU_PROVIDERS)
        if other:
            self.notes.append(
                f"{', '.join(other)} ran layers: the default tolerance assumes IEEE arithmetic in the data's own "
                "type, which a provider computing float32 convs in TF32 or with Winograd kernels does not keep"
            )
        return ValidationResult(
            model_path=self.model.path,
            inputs=self.inputs,
            layers=tuple(self.results[layer.name] for layer in layers),
            notes=tuple(self.notes),
            capture_runs=self.capture_runs,
            runtime=self.runtime.describe(),
        )

    def _record(self, layer: ConvLayer, result: LayerValidation) -> None:
        self._reads.release(layer)
        self.results[result.name] = result
        if self.progress is not None:
            self.progress(result.name, len(self.results), len(self.model.conv_layers))

    def _feeds(self) -> Feeds:
        """The model's inputs (random, or the user's file), made once, when a plugin runs the whole model."""
        if self._given is None:
            if self.options.inputs is not None:
                self._given = file_feeds(self.model, self.options.inputs, self.options.max_capture_mb)
            else:
                limit = self.options.max_capture_mb
                self._given = random_feeds(self.model, self.options.seed, self.options.input_shapes, limit)
            self.inputs = dict(self._given.description)
            check_declared(self.model.path, self.model.conv_layers, self._given.symbols, self.options.max_capture_mb)
        return self._given

    def _captured(self, layers: Sequence[ConvLayer]) -> None:
        """Validate the layers a plugin captures from whole-model runs; on a refusal the rest go standalone."""
        if self.progress is not None:
            self.progress("running the model", 0, len(layers))
        try:
            captured = self.manager.hook.capture_layers(
                model=self.model,
                layers=layers,
                feeds=self._feeds,
                runtime=self.runtime,
                budget_bytes=self.options.max_capture_mb * 2**20,
            )
            with ThreadPoolExecutor(max_workers=RERUN_THREADS, thread_name_prefix="inspector-rerun") as pool:
                running: deque[tuple[ConvLayer, Future[LayerValidation]]] = deque()
                for item in captured or ():
                    self.capture_runs = max(self.capture_runs, item.run + 1)
                    ran = Run("captured", item.providers)
                    running.append(
                        (item.layer, pool.submit(self._compare, item.layer, ran, item.operands, item.output))
                    )
                    while len(running) > RERUN_THREADS:
                        self._record(*_done(running.popleft()))
                while running:
                    self._record(*_done(running.popleft()))
        except RuntimeRefusal as refusal:
            self.notes.append(f"onnxruntime could not run the model ({refusal}); its layers ran standalone")

    def _standalone(self, layer: ConvLayer) -> LayerValidation:
        """The layer alone, run by its format's plugin on a seeded input, and by the engine."""
        try:
            shape = standalone_input_shape(layer)
            if layer.weight is None:
                raise NotExportable("its weight is computed while the model runs, not stored")
        except NotExportable as reason:
            return _outcome(layer, "skipped", None, reason=f"cannot run on its own: {reason}")
        check_weight(self.model.path, layer)
        dtype, y_shape = dtype_of(layer.weight.dtype), standalone_output_shape(layer, shape.dims)
        w = (layer.weight.shape, dtype)
        check_layer(self.model.path, layer, (shape.dims, dtype), (y_shape, dtype), w, self.options.max_capture_mb)
        weight = layer.weight.array
        x = random_array(shape.dims, weight.dtype, layer_rng(self.options.seed, layer.name))
        ran = Run("standalone", placeholder=shape.made_up)
        try:
            answer = self.manager.hook.run_layer(model=self.model, layer=layer, x=x, runtime=self.runtime)
        except NotExportable as reason:
            return _outcome(layer, "skipped", None, reason=f"cannot run on its own: {reason}")
        except RuntimeRefusal as refusal:
            status: Status = "skipped" if refusal.unsupported else "error"
            why = "onnxruntime cannot run it" if refusal.unsupported else "onnxruntime refuses the layer"
            return _outcome(layer, status, ran, shape.dims, reason=f"{why}: {refusal}")
        if answer is None:
            reason = f"no installed plugin runs the layers of {self.model.format} models"
            return _outcome(layer, "skipped", None, reason=reason)
        operands = {"x": x, "w": weight, "b": None if layer.bias is None else layer.bias.array}
        return self._compare(layer, dataclasses.replace(ran, providers=answer.providers), operands, answer.output)

    def _compare(
        self, layer: ConvLayer, ran: Run, operands: Mapping[str, np.ndarray | None], actual: np.ndarray
    ) -> LayerValidation:
        x, w = operands["x"], operands.get("w")
        shape = None if x is None else tuple(x.shape)
        if x is not None:  # before the engine allocates anything
            held = None if w is None else (w.shape, w.dtype)
            limit = self.options.max_capture_mb
            check_layer(self.model.path, layer, (x.shape, x.dtype), (actual.shape, actual.dtype), held, limit)
        try:
            engine = rerun(layer, operands, actual.shape)
        except ConvolutionError as error:
            return _outcome(layer, "error", ran, shape, reason=f"the engine cannot compute the layer: {error}")
        if engine.expected.shape != actual.shape:
            reason = f"onnxruntime's output has shape {list(actual.shape)}, the engine's {list(engine.expected.shape)}"
            return _outcome(layer, "failed", ran, shape, reason=reason)
        atol, rtol = self.options.tolerance(layer.name)
        bound = filter_sums = None
        if engine.magnitude is not None and engine.filters is not None and x is not None:
            choice = self.options.bound
            if choice == "auto" and weights_repeat(engine.filters):
                choice = "worst-case"
            bound = rounding_bound(
                terms=engine.terms,
                accumulation=accumulation_dtype(_runtime_op(layer), actual.dtype.name, ran.providers),
                output=actual.dtype.name,
                magnitude_dtype=engine.magnitude.dtype.name,
                elements=actual.size,
                layers=len(self.model.conv_layers),
                choice=choice,
            )
            if not bound.useful and atol is None:
                reason = (
                    f"{bound.accumulation} sums of {bound.terms:,} terms: rounding alone can explain any result "
                    f"(bound {bound.coefficient:.3g} × the sum's magnitude); give --atol to compare anyway"
                )
                return _outcome(layer, "skipped", ran, shape, reason=reason)
            if bound.input_tiny:
                filter_sums = np.abs(engine.filters).sum(axis=1, dtype=np.float64)
        comparison = compare(
            actual,
            engine.expected,
            magnitude=engine.magnitude,
            bound=bound,
            filter_sums=filter_sums,
            atol=atol,
            rtol=rtol,
        )
        return _outcome(layer, "passed" if comparison.passed else "failed", ran, shape, comparison=comparison)


@dataclass(frozen=True, slots=True)
class Run:
    """How onnxruntime ran a layer: ``mode``, the providers that ran it, whether its input size was made up."""

    mode: Mode
    providers: tuple[str, ...] = ()
    placeholder: bool = False


def _done(running: tuple[ConvLayer, Future[LayerValidation]]) -> tuple[ConvLayer, LayerValidation]:
    """A layer and its result, once its thread has computed it."""
    layer, result = running
    return layer, result.result()


def _runtime_op(layer: ConvLayer) -> str:
    """The ONNX op onnxruntime runs for ``layer`` (a Keras layer runs as the one-node model of its kind)."""
    return "ConvTranspose" if layer.kind == "conv_transpose" else "Conv"


def _outcome(
    layer: ConvLayer,
    status: Status,
    ran: Run | None,
    shape: tuple[int, ...] | None = None,
    *,
    comparison: Comparison | None = None,
    reason: str = "",
) -> LayerValidation:
    return LayerValidation(
        name=layer.name,
        outputs=layer.outputs,
        status=status,
        mode=None if ran is None else ran.mode,
        providers=() if ran is None else ran.providers,
        placeholder=ran is not None and ran.placeholder,
        input_shape=shape,
        comparison=comparison,
        reason=reason,
    )
