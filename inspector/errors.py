"""The exceptions conv-inspector raises: every one is an ``InspectorError``."""

from __future__ import annotations


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none (library messages run on)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class InspectorError(Exception):
    """Base class of every error the tool raises on purpose."""


class LoadError(InspectorError):
    """A model file is of a known format but cannot be read (missing, corrupt, unsafe)."""


class UnsupportedModelError(InspectorError):
    """No loader plugin recognises the file, or it uses a feature the tool does not handle."""


class ValidationError(InspectorError):
    """Options or inputs a validation run cannot use: a tolerance naming no conv layer, an input shape that
    contradicts the model, an unreadable ``.npz``, an execution provider that is not installed, arrays a comparison
    cannot compare."""


class ConvolutionError(InspectorError):
    """Arguments that cannot describe a valid convolution: channel and group counts, weight and bias shapes,
    strides, dilations, pads or dtypes that no conv can have (the NumPy engine's argument errors).

    The message names the operator and the rule (see :mod:`inspector.model.invariants`).
    """


class PluginError(InspectorError):
    """A plugin misbehaved: raised, returned the wrong type, or could not be loaded."""


class FilterError(InspectorError, IndexError):
    """A filter or kernel a conv layer cannot hand out.

    An output channel out of range, an input map outside the filter's group, or a weight that is not stored or
    whose shape disagrees with the layer's attributes.
    """
