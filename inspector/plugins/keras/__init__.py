"""The built-in Keras plugin: the loader and the readers of .h5 (Keras 2 and 3), .keras and weights-only files."""
