"""Reports of what was found: the ``Report`` of one model, and its renderings as text, JSON, JUnit XML and .npz."""
