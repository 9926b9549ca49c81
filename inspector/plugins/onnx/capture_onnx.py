"""The ONNX plugin's validation hooks: conv layers' activations captured from the model run in onnxruntime, a
bounded number of bytes a run (``capture_layers``), and one layer run alone (``run_layer``).

Each run exposes some layers' input and output tensors (and any operand the common model does not hold, such
as a weight computed at run time or a quantized conv's scales) as extra graph outputs, and fetches them.
onnxruntime keeps every graph output alive for the whole run, fetched or not, so each run gets a session
whose extra outputs are exactly its own tensors; the runs are planned so that the tensors of one run add up
to at most the byte budget (a layer bigger than the budget runs alone).  Exposing a conv's output also keeps
onnxruntime from fusing the conv with what follows, so the captured output is the conv's own.

Only the top-level graph is captured: convs in ``If``/``Loop`` bodies are validated standalone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import helper

from inspector.errors import LoadError
from inspector.hookspecs import hookimpl
from inspector.model.common import ConvLayer, Model, Shape, Weight
from inspector.plugins.onnx.onnx_errors import UNREADABLE
from inspector.plugins.onnx.tensors import tensor_reader
from inspector.plugins.onnx.wire import weightless_model
from inspector.validation.captured import Captured, LayerRun, ModelInputs

if TYPE_CHECKING:
    from inspector.validation.runtime import Placement, RuntimeSettings

BYTES_PER_ELEMENT = 4
"""Size assumed for every captured element when planning (float32 and int32 activations)."""
OPERANDS: dict[str, tuple[str, ...]] = {
    "Conv": ("x", "w", "b"),
    "ConvTranspose": ("x", "w", "b"),
    "ConvInteger": ("x", "w", "x_zero_point", "w_zero_point"),
    "QLinearConv": ("x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale", "y_zero_point", "b"),
}
"""The roles of each ONNX conv op's inputs, by position."""


@hookimpl(trylast=True)
def capture_layers(
    model: Model,
    layers: Sequence[ConvLayer],
    feeds: Callable[[], ModelInputs],
    runtime: RuntimeSettings,
    budget_bytes: float,
) -> Iterator[Captured] | None:
    """The top-level convs of an ONNX model, captured from onnxruntime runs of the whole model."""
    if model.format != "onnx":
        return None
    return _captures(model, layers, feeds, runtime, budget_bytes)


@hookimpl(trylast=True)
def run_layer(model: Model, layer: ConvLayer, x: np.ndarray, runtime: RuntimeSettings) -> LayerRun | None:
    """A conv of an ONNX model (one in a control-flow body, or of a model onnxruntime cannot run) run alone."""
    if model.format != "onnx":
        return None
    from inspector.validation.standalone import run_standalone  # onnxruntime only when validating

    return run_standalone(layer, x, runtime)


def _captures(
    model: Model,
    layers: Sequence[ConvLayer],
    feeds: Callable[[], ModelInputs],
    runtime: RuntimeSettings,
    budget_bytes: float,
) -> Iterator[Captured]:
    runner = CaptureRunner(model.path, runtime)
    candidates = [layer for layer in layers if runner.computes(layer)]
    if not candidates:
        return
    given = feeds()
    targets = capture_targets(candidates, given.symbols)
    for run, planned in enumerate(plan_runs(targets, budget_bytes)):
        values, placement = runner.run([name for target in planned for name in target.names], given.arrays)
        for target in planned:
            providers = placement.of(target.layer.name, target.output)
            yield Captured(target.layer, target.operands(values), values[target.output], providers, run)
        del values


def operand_names(layer: ConvLayer) -> tuple[str, ...]:
    """The roles of the layer's inputs by ONNX input position (``x``, ``w``, ``b`` for a float conv)."""
    return OPERANDS.get(layer.source_op, OPERANDS["Conv"])


@dataclass(frozen=True, slots=True)
class CaptureTarget:
    """A layer to capture: the tensor names of its operands by role, and the bytes they take (``None``: unknown)."""

    layer: ConvLayer
    tensors: Mapping[str, str]
    output: str
    nbytes: Mapping[str, int | None]

    @property
    def names(self) -> tuple[str, ...]:
        """Every tensor this target needs from a run."""
        return (*self.tensors.values(), self.output)

    def operands(self, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray | None]:
        """The layer's operands by role: the captured ones from a run's ``values``, and those the model holds."""
        operands: dict[str, np.ndarray | None] = {role: values[name] for role, name in self.tensors.items()}
        operands.update({role: weight.array for role, weight in _held(self.layer).items()})
        return operands


def _held(layer: ConvLayer) -> dict[str, Weight]:
    """The operands a float layer takes from the common model (its stored weight and bias), by role."""
    if layer.quantized:
        return {}
    return {role: weight for role, weight in (("w", layer.weight), ("b", layer.bias)) if weight is not None}


def capture_targets(layers: Sequence[ConvLayer], symbols: Mapping[str, int]) -> list[CaptureTarget]:
    """What to capture for each layer (symbolic dims sized by ``symbols``).

    A layer needs its input ``x`` and output; float layers take their weight and bias from the common model
    when it holds them, every other operand is captured.
    """
    targets = []
    for layer in layers:
        held = _held(layer)
        roles = zip(operand_names(layer), layer.inputs, strict=False)
        tensors = {role: name for role, name in roles if name and role not in held}
        nbytes: dict[str, int | None] = {name: 0 for name in tensors.values()}  # scales and zero points
        if "w" in tensors and layer.weight is not None:
            nbytes[tensors["w"]] = layer.weight.size * BYTES_PER_ELEMENT
        nbytes[tensors["x"]] = _nbytes(layer.input_shape, symbols)
        nbytes[layer.outputs[0]] = _nbytes(layer.output_shape, symbols)
        targets.append(CaptureTarget(layer=layer, tensors=tensors, output=layer.outputs[0], nbytes=nbytes))
    return targets


def _nbytes(shape: Shape | None, symbols: Mapping[str, int]) -> int | None:
    if shape is None:
        return None
    dims = [symbols.get(d, d) if isinstance(d, str) else d for d in shape]
    if not all(isinstance(d, int) for d in dims):
        return None
    return math.prod(dims) * BYTES_PER_ELEMENT  # type: ignore[arg-type]


def plan_runs(targets: Sequence[CaptureTarget], budget_bytes: float) -> list[list[CaptureTarget]]:
    """Consecutive targets grouped into runs of at most ``budget_bytes``; a tensor two targets share counts once,
    and a target of unknown size runs alone."""
    runs: list[list[CaptureTarget]] = []
    current: list[CaptureTarget] = []
    sizes: dict[str, int] = {}
    for target in targets:
        if any(size is None for size in target.nbytes.values()):
            runs += [current, [target]] if current else [[target]]
            current, sizes = [], {}
            continue
        added = {name: size or 0 for name, size in target.nbytes.items() if name not in sizes}
        if current and sum(sizes.values()) + sum(added.values()) > budget_bytes:
            runs.append(current)
            current, sizes = [], {}
            added = {name: size or 0 for name, size in target.nbytes.items()}
        current.append(target)
        sizes.update(added)
    if current:
        runs.append(current)
    return runs


class CaptureRunner:
    """Runs one ONNX file in onnxruntime, each time with chosen tensors as extra graph outputs.

    The file is never parsed into a model to change and re-serialize: it is read once without its weights'
    bytes (:func:`inspector.plugins.onnx.wire.weightless_model`: inline weights become references into the file
    itself), and each run appends to that a small serialized ``ModelProto`` holding only its ``graph.output``
    entries, which protobuf parses as the model with those outputs added.  onnxruntime reads every weight from the
    model's own folder, after the loader's checks have passed on every external tensor, so no copy of the weights
    is held here while onnxruntime builds its own, and the file is neither parsed whole nor copied.
    """

    def __init__(self, path: str | Path, settings: RuntimeSettings) -> None:
        self.path = Path(path)
        self.settings = settings
        try:
            # the file itself, not a symbolic link to it: onnxruntime refuses data that resolves outside the folder
            self.model, references = weightless_model(self.path.resolve())
            graph = onnx.ModelProto.FromString(self.model).graph
        except UNREADABLE as error:
            raise LoadError(f"{self.path}: not a readable ONNX model ({error})") from None
        for tensor in graph.initializer:
            if tensor.data_location == onnx.TensorProto.EXTERNAL and tensor.name not in references:
                tensor_reader(tensor, self.path.parent, str(self.path))  # its checks: raises for a bad location
        self.graph_inputs = {value.name for value in graph.input}
        self.graph_outputs = {value.name for value in graph.output}
        self.produced = {name for node in graph.node for name in node.output if name}

    def computes(self, layer: ConvLayer) -> bool:
        """Whether a node of the top-level graph computes ``layer`` (so that its activations can be captured)."""
        return bool(layer.outputs) and layer.outputs[0] in self.produced and bool(layer.inputs and layer.inputs[0])

    def run(self, tensors: Sequence[str], feeds: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], Placement]:
        """The values of ``tensors`` in one run on ``feeds`` (graph inputs among them come from ``feeds``), and
        which provider ran each node."""
        wanted = list(dict.fromkeys(t for t in tensors if t not in feeds))
        values = {t: feeds[t] for t in tensors if t in feeds}
        added = [helper.make_empty_tensor_value_info(t) for t in wanted if t not in self.graph_outputs]
        outputs = onnx.ModelProto(graph=onnx.GraphProto(output=added)).SerializeToString()
        from inspector.validation.runtime import create_session, run_placed  # onnxruntime only when validating

        session = create_session(
            self.model + outputs, settings=self.settings, external_folder=self.path.resolve().parent
        )
        needed = {name: array for name, array in feeds.items() if name in self.graph_inputs}
        fetched, placement = run_placed(session, wanted, needed)
        values.update(zip(wanted, fetched, strict=True))
        return values, placement
