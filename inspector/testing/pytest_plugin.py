"""Model files as pytest tests: each conv layer of each model under ``--inspect-models`` is one test item.

A model is validated once per process, by the first of its items that runs, and the result serves its other
items.  Under pytest-xdist (``-n auto``) each model file's items go to one worker (:mod:`.model_scheduling`),
so every model is validated once.  The files found under a folder are those ``inspect FOLDER`` takes
(:mod:`inspector.model.model_files`); a file given itself is read whatever its name.
A failed layer fails its test with the validation message; a layer the tool cannot run is skipped with the
reason; a file that cannot be read is a collection error of one line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from inspector.errors import InspectorError
from inspector.model.common import Model
from inspector.model.input_shapes import parse_input_shape
from inspector.model.model_files import is_model_file
from inspector.options import Options
from inspector.plugin_manager import get_plugin_manager, load_model
from inspector.report.visible import visible
from inspector.validation.options import ValidationOptions
from inspector.validation.result import LayerValidation, ValidationResult


class LayerMismatch(Exception):
    """A conv layer that failed validation (its message is the test's failure text)."""


def collection_options(config: pytest.Config) -> ValidationOptions:
    """The validation options the ``--inspect-*`` flags ask for (a bad value is a usage error)."""
    settings: dict[str, object] = {}
    try:
        settings["input_shapes"] = dict(parse_input_shape(t) for t in config.getoption("inspect_input_shape"))
        if config.getoption("inspect_provider"):
            from inspector.validation.runtime import installed_providers

            settings["providers"] = installed_providers(config.getoption("inspect_provider"))
        for name in ("graph_optimization", "threads"):
            if config.getoption(f"inspect_{name}") is not None:
                settings[name] = config.getoption(f"inspect_{name}")
        return ValidationOptions(**settings)  # type: ignore[arg-type]
    except InspectorError as error:
        raise pytest.UsageError(str(error)) from None


class ModelCollection:
    """The plugin object registered when ``--inspect-models`` is given: it claims model files under its paths."""

    def __init__(self, paths: Sequence[str], options: ValidationOptions | None = None) -> None:
        self.roots = [Path(path).resolve() for path in paths]
        self.options = options or ValidationOptions()
        for root in self.roots:
            if not root.exists():
                raise pytest.UsageError(f"--inspect-models {root}: no such file or directory")

    def claims(self, path: Path) -> bool:
        """Whether ``path`` is a model file given, or one found under a folder given."""
        resolved = path.resolve()
        return any(
            resolved == root or (resolved.is_relative_to(root) and is_model_file(resolved, root)) for root in self.roots
        )

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if self.claims(file_path):
            return ModelFile.from_parent(parent, path=file_path, options=self.options)
        return None

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: object) -> object | None:
        """pytest-xdist's scheduler: one worker per model file (under ``load``, what ``-n`` alone means)."""
        from inspector.testing.model_scheduling import DISTRIBUTIONS, ModelScheduling

        if config.getvalue("dist") not in DISTRIBUTIONS:
            return None
        return ModelScheduling(config, log, self.claims)  # type: ignore[arg-type]


class ModelFile(pytest.File):
    """One model file; its items are its conv layers, in model order."""

    _model: Model | None = None
    _result: ValidationResult | InspectorError | None = None

    def __init__(self, *args: object, options: ValidationOptions, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.options = options

    def collect(self) -> Iterator[pytest.Item]:
        self.manager = get_plugin_manager()  # loads the model and answers the validation hooks
        self._model = load_model(self.path, self.manager, Options(input_shapes=self.options.input_shapes))
        for layer in self._model.conv_layers:
            yield LayerItem.from_parent(self, name=visible(layer.name), layer=layer.name)

    def validation(self) -> ValidationResult:
        """The model's validation, computed on first use in this process."""
        if self._result is None:
            from inspector.validation.run import validate  # onnxruntime is imported only when validating

            try:
                assert self._model is not None  # items exist only once collect() loaded the model
                self._result = validate(self._model, self.options.for_model(self._model), plugin_manager=self.manager)
            except InspectorError as error:
                self._result = error
        if isinstance(self._result, InspectorError):
            raise self._result
        return self._result

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, InspectorError):
            return visible(str(excinfo.value))
        return super().repr_failure(excinfo)


class LayerItem(pytest.Item):
    """One conv layer: passes when onnxruntime and the NumPy engine agree on it.

    ``layer`` is the layer's name in the model; the item's own ``name`` shows it with control characters made
    visible, as pytest prints it to a terminal."""

    def __init__(self, *args: object, layer: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.layer = layer

    def runtest(self) -> None:
        assert isinstance(self.parent, ModelFile)
        layer: LayerValidation = self.parent.validation()[self.layer]
        if layer.status == "skipped":
            pytest.skip(visible(layer.message))
        if layer.status != "passed":
            raise LayerMismatch(visible(f"{self.layer} ({layer.mode}, {layer.status}): {layer.message}"))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, LayerMismatch | InspectorError):
            return visible(str(excinfo.value))
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # The failure's headline.  Not a tail of the node id, which pytest -v would print with its dots as '::'.
        return self.path, None, f"{self.name} ({self.path.name})"
