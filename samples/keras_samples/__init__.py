"""The code behind ``samples/make_keras_samples.py``: makes the Keras fixtures in ``samples/keras/``.

Run it through that script (``cli`` has the command line and how to set up the TensorFlow venv). Modules import
TensorFlow, Keras and tf2onnx only inside functions, so importing any of them needs numpy only, and
``--part check`` / ``--part readme`` run without TensorFlow. Nothing in ``inspector/`` or ``tests/`` may import it.

``common``       paths, constants and small helpers without TensorFlow (seeds, JSON, differences, sizes)
``models``       one builder per fixture model, taking the Keras module (``tf_keras`` or ``keras``)
``catalog``      the list of models: seed, writers, files to write, and what each covers (README text)
``keras_utils``  small Keras helpers: leaf layers, seeded weights and inputs, running a model
``reference``    what Keras computes, for ``*.reference.npz`` (outputs, weights, conv activations)
``conversion``   tf2onnx conversion (``*.tf2onnx.onnx``), checked against Keras in onnxruntime
``writer``       ``--part k2`` / ``k3``: build, record, save in every format, reload, convert
``legacy``       ``--part legacy``: "Keras 2.1.6" style ``.h5`` files derived with h5py
``onnx_map``     which ONNX Conv node computes which Keras layer
``readme_text``  the fixed prose of ``samples/keras/README.md``
``readme``       ``--part readme``: ``samples/keras/README.md`` and ``tf2onnx_map.json``
``check``        ``--part check``: re-read every file without TensorFlow
``cli``          the command line; ``--part all`` runs each part in a fresh subprocess
"""
