"""The shipped default model; a package only so that installs carry default.onnx along."""
