"""API keys in the OS keyring (the `keyring` package): store, load, delete, and whether it is usable.

Where no usable keyring backend exists (headless Linux without Secret Service, a sandbox) the
caller keeps the key in its settings file instead and warns; see `ai.online.config`. Nothing here
ever logs or formats a key: messages name only the service and the entry.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

SERVICE = "texture-sorter"


def _backend():
    """The active keyring backend, or None when the package is missing or has no usable backend."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration must not stop the program
        log.warning("cannot load a keyring backend: %s", type(exc).__name__)
        return None
    if isinstance(backend, fail.Keyring):
        return None
    # keyring's chainer with no member backends has priority 0 and stores nothing.
    priority = getattr(backend, "priority", 1)
    if priority is not None and priority <= 0:
        return None
    return backend


def keyring_available() -> bool:
    """True when an OS keyring (or a configured keyring backend) can hold secrets."""
    return _backend() is not None


def backend_name() -> str:
    backend = _backend()
    return type(backend).__name__ if backend is not None else "none"


def store_api_key(entry: str, key: str) -> bool:
    """Save `key` under `entry`; an empty key deletes the entry. False when no keyring could take it."""
    backend = _backend()
    if backend is None:
        return False
    if not key:
        delete_api_key(entry)
        return True
    try:
        backend.set_password(SERVICE, entry, key)
    except Exception as exc:  # locked or refusing keyring: the caller falls back to the file
        log.warning(
            "the keyring (%s) refused to store %s: %s", type(backend).__name__, entry, type(exc).__name__
        )
        return False
    log.debug("stored the API key for %s in the keyring (%s)", entry, type(backend).__name__)
    return True


def load_api_key(entry: str) -> str | None:
    """The key stored under `entry`, or None when there is none or no keyring."""
    backend = _backend()
    if backend is None:
        return None
    try:
        return backend.get_password(SERVICE, entry) or None
    except Exception as exc:  # a locked keyring reads as "no key", never as a crash
        log.warning(
            "cannot read %s from the keyring (%s): %s", entry, type(backend).__name__, type(exc).__name__
        )
        return None


def delete_api_key(entry: str) -> None:
    backend = _backend()
    if backend is None:
        return
    try:
        backend.delete_password(SERVICE, entry)
    except Exception as exc:  # deleting a missing entry raises PasswordDeleteError: nothing to do
        log.debug("no keyring entry %s to delete (%s)", entry, type(exc).__name__)
