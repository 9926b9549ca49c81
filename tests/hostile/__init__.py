"""Hostile and broken model files: a corpus built by the tests, the checks every file must pass, and a fuzzer.

Every file gets a clean answer: ``inspector.inspect_model`` returns a ``Report`` or raises an
``InspectorError``, within seconds and a bounded amount of memory, reading nothing outside the model's folder
and running nothing the file carries.
"""
