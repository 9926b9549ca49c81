"""A tiny test plugin: an analyzer that always raises."""

from __future__ import annotations

import inspector


@inspector.hookimpl
def analyze_model(model, options):
    raise RuntimeError("boom")
