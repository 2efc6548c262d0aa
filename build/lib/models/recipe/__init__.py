"""Recipe that rebuilds models/default.onnx from the game data of four Debian packages."""
