"""Module-wide switches for reference modes: the slower way a stage used to work, kept so the tests
and the benchmark's old decoder can compare against it.

Module-wide, not thread-scoped: the pipeline's worker threads must see a switch set by the thread
that runs the benchmark. Only the CLI bench and tests use them, never the GUI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def switched(namespace: dict[str, Any], name: str, value: Any) -> Iterator[None]:
    """Set the module global `name` in `namespace` (a module's globals()) to `value` inside the
    block, and back to what it was after it, also on error."""
    saved = namespace[name]
    namespace[name] = value
    try:
        yield
    finally:
        namespace[name] = saved
