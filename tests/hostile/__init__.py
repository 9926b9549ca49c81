"""Hostile and broken model files: a corpus built by the tests, the checks every file must pass, and a fuzzer.

Every file gets a clean answer: ``inspector.inspect_model`` returns a ``Report`` or raises an
``InspectorError``, within seconds and a bounded amount of memory, reading nothing outside the model's folder
and running nothing the file carries.  Every corpus case states the one answer it must get: an outcome (and so
the exit code of ``inspect``) and a fragment of the error line or of the report (``case.Case``).
"""
