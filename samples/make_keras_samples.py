#!/usr/bin/env python3
"""Make the Keras fixtures in ``samples/keras/`` with real Keras, tf-keras and tf2onnx.

Thin entry point: the code is the package ``samples/keras_samples/`` (its ``cli`` module documents the command
line and the TensorFlow venv it needs). Run from the repository root, by hand, never by CI::

    /tmp/tfvenv/bin/python samples/make_keras_samples.py              # empties and rewrites samples/keras/
    /tmp/venv/bin/python samples/make_keras_samples.py --part check   # re-read everything without TensorFlow
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # samples/, where the keras_samples package lives

from keras_samples.cli import main

if __name__ == "__main__":
    main()
