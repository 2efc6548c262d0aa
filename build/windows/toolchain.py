"""The Windows build's tools on Linux: Debian's Wine, Wine prefixes, registry downloads and the wheel cache.

Everything is installed by the build itself: as root on Debian it apt-installs Wine (64- and 32-bit:
Inno Setup's compiler and the setup.exe it writes are 32-bit programs) and osslsigncode; the npm
client comes from apt too when it is missing. Downloads are kept in ~/.cache/texture-sorter-build/
windows (wheels, the CPython sdist, the Inno Setup package), so only a cold machine fetches them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path, PureWindowsPath

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "texture-sorter-build" / "windows"
WHEELS = CACHE / "wheels"
DOWNLOADS = CACHE / "downloads"
HERE = Path(__file__).resolve().parent
LOCK_FILE = HERE / "requirements.txt"
# pip's platform flags for the Windows CPython (cpython.py): win_amd64, CPython 3.11.
WIN_WHEEL_FLAGS = (
    "--platform", "win_amd64", "--only-binary=:all:", "--python-version", "3.11",
    "--implementation", "cp", "--abi", "cp311",
)  # fmt: skip
# Debian package → the file it installs that shows it is there (Debian's wine64 and wine32 put
# their loaders in /usr/lib/wine; `wine` picks one per program).
APT_PACKAGES = {
    "wine": Path("/usr/bin/wine"),
    "wine64": Path("/usr/lib/wine/wine64"),
    "wine32:i386": Path("/usr/lib/wine/wine"),
    "osslsigncode": Path("/usr/bin/osslsigncode"),
}
# Wine without Mono/Gecko prompts, without debug noise.
WINE_ENV = {"WINEARCH": "win64", "WINEDLLOVERRIDES": "mscoree,mshtml=", "WINEDEBUG": "-all"}


class ToolchainError(Exception):
    """A tool could not be installed or run; the message says which and what to do."""


# --- system packages ------------------------------------------------------------------------


def _missing_packages() -> list[str]:
    return [package for package, marker in APT_PACKAGES.items() if not marker.is_file()]


def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(
            f"`apt-get {' '.join(args)}` failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )


def ensure_system_packages(log=print) -> str:
    """Install Wine (64- and 32-bit) and osslsigncode when missing; return `wine --version`."""
    missing = _missing_packages()
    if missing:
        if not shutil.which("apt-get") or os.geteuid() != 0:
            raise ToolchainError(
                f"the Windows build needs {', '.join(missing)}: run it as root on Debian/Ubuntu "
                "(it apt-installs them), or install them by hand: dpkg --add-architecture i386 && "
                "apt-get update && apt-get install wine wine64 wine32:i386 osslsigncode"
            )
        log(f"windows: installing {', '.join(missing)} with apt-get …")
        foreign = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True)
        if "i386" not in foreign.stdout.split():
            subprocess.run(["dpkg", "--add-architecture", "i386"], check=True)
        _apt("update", "-q")
        _apt("install", "-y", "-q", "--no-install-recommends", *missing)
        still = _missing_packages()
        if still:
            raise ToolchainError(f"apt-get ran but {', '.join(still)} is still missing")
    return subprocess.run(["wine", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def ensure_npm(log=print) -> str:
    """The npm client (apt's `npm` when missing); returns its path."""
    if not shutil.which("npm"):
        if not shutil.which("apt-get") or os.geteuid() != 0:
            raise ToolchainError(
                "the Windows installer build needs npm (Inno Setup comes from npm): install npm"
            )
        log("windows: installing npm with apt-get …")
        _apt("install", "-y", "-q", "--no-install-recommends", "npm")
    return shutil.which("npm") or "npm"


# --- Wine -----------------------------------------------------------------------------------


def windows_path(path: Path | str) -> str:
    """The path a Windows program under Wine sees for a Linux path (Wine maps / to drive Z:)."""
    return "Z:" + str(Path(path).resolve()).replace("/", "\\")


class Wine:
    """One Wine prefix: made on first use, programs run with their output through pipes.

    A Windows program whose stdout/stderr is a plain file under Wine fails to set up its streams
    (CPython: "init_sys_streams: Invalid handle"), so output always goes through a pipe.
    """

    def __init__(self, prefix: Path):
        self.prefix = prefix

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TEXTURE_SORTER_", "QT_"))}
        return {**base, **WINE_ENV, "WINEPREFIX": str(self.prefix), **(extra or {})}

    def boot(self) -> None:
        """Make the prefix (15 s the first time), with Wine's null display driver.

        Without an X display Wine refuses to create windows, and Inno Setup's setup.exe creates
        its (hidden) wizard even when /VERYSILENT; the null driver lets it, headless.
        """
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["wineboot", "-i"], env=self.env(), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)  # fmt: skip
        self.wait()
        if proc.returncode != 0 or not (self.prefix / "drive_c" / "windows").is_dir():
            raise ToolchainError(f"wineboot could not make {self.prefix}:\n{proc.stderr[-1500:]}")
        driver = self.run(
            ["reg", "add", "HKCU\\Software\\Wine\\Drivers", "/v", "Graphics", "/d", "null", "/f"]
        )
        self.wait()
        if driver.returncode != 0:
            raise ToolchainError(f"could not select Wine's null display driver: {driver.stderr[-500:]}")

    def wait(self, timeout: float = 300) -> bool:
        """Wait until every program of this prefix has ended (Inno's uninstaller runs on after its start).

        A program still running after `timeout` seconds (a hung child of a timed-out command) is
        killed with the rest of the prefix, so that no wait lasts for ever; False then.
        """
        try:
            subprocess.run(["wineserver", "-w"], env=self.env(), check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        return True

    def kill(self) -> None:
        """End every program of this prefix now (`wineserver -k`)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(["wineserver", "-k"], env=self.env(), check=False, timeout=60)

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float = 600,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess:
        """Run `wine ARGS…`; stdout and stderr come back as text."""
        return subprocess.run(
            ["wine", *args], env=self.env(env), cwd=cwd, capture_output=True, text=True,
            encoding="utf-8", errors="replace", timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def stream(
        self, args: Sequence[str], *, cwd: Path | None = None, quiet_lines: Sequence[str] = ()
    ) -> None:
        """Run `wine ARGS…` and print its output as it comes; raise ToolchainError when it fails."""
        proc = subprocess.Popen(
            ["wine", *args], env=self.env(), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, encoding="utf-8", errors="replace", stdin=subprocess.DEVNULL,
        )  # fmt: skip
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = (tail + [line])[-40:]
            if not any(word in line for word in quiet_lines):
                print(line, end="", flush=True)
        if proc.wait() != 0:
            raise ToolchainError(f"`{PureWindowsPath(args[0]).name} {' '.join(args[1:4])} …` failed "
                                 f"(exit {proc.returncode}):\n{''.join(tail)}")  # fmt: skip

    def users_dirs(self) -> list[Path]:
        """The Windows user profile folders of this prefix (one: the Linux user's name)."""
        users = self.prefix / "drive_c" / "users"
        return sorted(p for p in users.iterdir() if p.is_dir() and p.name.lower() != "public")


@contextlib.contextmanager
def exclusive(lock: Path = CACHE / "build.lock"):
    """One Windows build at a time on this machine: they share the cache's Wine prefix."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- downloads --------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_index() -> str:
    """The simple index pip uses here (pip's configuration, else pip's default index)."""
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        proc = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                              capture_output=True, text=True)  # fmt: skip
        url = proc.stdout.strip() if proc.returncode == 0 else ""
    if not url:
        from pip._internal.models.index import PyPI  # pip's own default, so no index is named here

        url = PyPI.simple_url
    return url.rstrip("/")


def fetch_sdist(project: str, filename: str, sha256: str, log=print) -> Path:
    """The sdist `filename` of `project` from the package index, checked against `sha256`, cached.

    pip cannot fetch an sdist without running its setup.py (to read its metadata), so this reads
    the index's simple API (PEP 691) itself, as pip does, and never unpacks or builds the file.
    """
    target = DOWNLOADS / filename
    if target.is_file() and sha256_file(target) == sha256:
        return target
    index = f"{_package_index()}/{project}/"
    log(f"windows: downloading {filename} …")
    request = urllib.request.Request(index, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            files = json.load(answer)["files"]
        (entry,) = [f for f in files if f["filename"] == filename]
        DOWNLOADS.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.NamedTemporaryFile(dir=DOWNLOADS, delete=False) as tmp,
            urllib.request.urlopen(entry["url"], timeout=300) as answer,
        ):
            shutil.copyfileobj(answer, tmp)
    except (OSError, ValueError, KeyError) as exc:
        raise ToolchainError(f"could not download {filename} from the package index ({exc})") from None
    got = sha256_file(Path(tmp.name))
    if got != sha256:
        os.unlink(tmp.name)
        raise ToolchainError(f"{filename}: sha256 {got}, expected {sha256}: not the pinned file")
    return Path(shutil.move(tmp.name, target))


def lock_entries(lock: Path = LOCK_FILE) -> dict[str, tuple[str, str]]:
    """{name: (version, sha256)} of the lock file's `name==version --hash=sha256:…` lines."""
    text = lock.read_text(encoding="utf-8").replace("\\\n", " ")
    entries = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            spec, _, digest = line.partition("--hash=sha256:")
            name, _, version = spec.strip().partition("==")
            entries[name] = (version, digest.strip())
    return entries


def ensure_wheels(lock: Path = LOCK_FILE, log=print) -> Path:
    """Every wheel of the lock file in the wheel cache (pip checks each hash); returns the cache."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    have = {sha256_file(p) for p in WHEELS.glob("*.whl")}
    if all(digest in have for _version, digest in lock_entries(lock).values()):
        return WHEELS
    log("windows: downloading the win_amd64 wheels …")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
         *WIN_WHEEL_FLAGS, "-r", str(lock), "-d", str(WHEELS)],
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise ToolchainError(f"pip download of the Windows wheels failed:\n{proc.stderr[-2000:]}")
    return WHEELS


if __name__ == "__main__":
    # `python build/windows/toolchain.py`: install Wine and osslsigncode now (CI's first Windows
    # step, so a machine without them fails with this message before anything else runs).
    try:
        print(f"windows: {ensure_system_packages()}, osslsigncode and 32-bit Wine are installed")
    except (ToolchainError, OSError, subprocess.CalledProcessError) as exc:
        print(f"windows: Wine could not be installed: {exc}", file=sys.stderr)
        sys.exit(1)
