"""Logging: a rotating log file in the user log folder, warnings to the console."""

from __future__ import annotations

import logging
import logging.handlers

from ai.paths import user_log_dir

LOG_FILE_NAME = "texture-sorter.log"
_configured = False


def log_file_path():
    return user_log_dir() / LOG_FILE_NAME


def setup_logging(verbose: bool = False) -> None:
    global _configured
    root = logging.getLogger()
    if _configured:
        return
    _configured = True
    root.setLevel(logging.DEBUG)
    # Pillow logs every PNG chunk at DEBUG from the decode threads: keep the log file readable.
    logging.getLogger("PIL").setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s")
    try:
        file_handler = logging.handlers.RotatingFileHandler(
            log_file_path(),
            maxBytes=2_000_000,
            backupCount=3,
            encoding="utf-8",
            errors="backslashreplace",  # a file name that is not UTF-8 is logged escaped, not dropped
        )
        file_handler.setFormatter(fmt)
        file_handler.setLevel(logging.DEBUG)
        root.addHandler(file_handler)
    except OSError as exc:  # a read-only profile must not stop the program
        logging.getLogger(__name__).warning("cannot write log file: %s", exc)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root.addHandler(console)
