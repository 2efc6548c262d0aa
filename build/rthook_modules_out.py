"""PyInstaller runtime hook: with TEXTURE_SORTER_MODULES_OUT=FILE set, the frozen app writes the names
of every module it loaded to FILE when it exits. tests/build and the smoke test read it to prove
that starting the app never loads torch; it also shows what start-up time is spent importing."""

import os

_modules_out = os.environ.get("TEXTURE_SORTER_MODULES_OUT")
if _modules_out:
    import atexit
    import sys

    def _write_loaded_modules(path=_modules_out):
        with open(path, "w", encoding="utf-8") as out:
            out.write("\n".join(sorted(sys.modules)) + "\n")

    atexit.register(_write_loaded_modules)
