"""Obtaining, converting, checking and loading the face model files.

`models.build` (build time, needs TensorFlow) writes `models/build/` and its
`MANIFEST.json`; `models.runtime` (run time, onnxruntime only) is the one place every
part of the framework opens a model through, so integrity and threading are decided once.
"""
