"""The Windows build's parts that need no Wine: the lock file, unpacking and checking the CPython,
the provenance audit, the launcher's Qt option. A real Windows build under Wine is what
`python build/smoke_test.py --target windows` (in .ci/run) tests; the last test here re-checks
such a build when one exists and Wine is installed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from windows import cpython, freeze, toolchain  # tests/build/conftest.py puts build/ on sys.path

ROOT = Path(__file__).resolve().parents[2]


# --- the lock file ------------------------------------------------------------------------------


def _pins(path: Path) -> dict[str, str | None]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec:
            name, _, version = spec.partition("==")
            pins[toolchain_name(name)] = version or None
    return pins


def toolchain_name(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def test_every_locked_wheel_has_an_exact_version_and_a_sha256():
    entries = toolchain.lock_entries()
    assert len(entries) > 20
    for name, (version, digest) in entries.items():
        assert version and all(part.isalnum() for part in version.split(".")), name
        assert len(digest) == 64 and int(digest, 16) >= 0, name


def test_the_lock_holds_what_requirements_in_pins_at_those_versions():
    locked = {toolchain_name(name): version for name, (version, _digest) in toolchain.lock_entries().items()}
    for name, version in _pins(toolchain.HERE / "requirements.in").items():
        assert name in locked, f"{name} is in requirements.in but not in requirements.txt"
        if version:
            assert locked[name] == version, name
    # The pins Wine 8 needs (see requirements.in) are what gets built.
    assert locked["numpy"] == "2.0.2" and locked["pyside6-essentials"] == "6.9.3"


def test_the_lock_is_the_windows_closure_not_the_linux_one():
    locked = {toolchain_name(name) for name in toolchain.lock_entries()}
    # keyring's Linux back-end and its crypto stack are marked sys_platform == "linux" (cffi is
    # there for PyNaCl, which signs packages on every platform)
    assert not locked & {"secretstorage", "jeepney", "cryptography"}
    assert {"pynacl", "cffi", "imagecodecs"} <= locked
    # Windows-only dependencies, named by hand in requirements.in
    assert {"pywin32-ctypes", "pefile", "colorama"} <= locked
    # never bundled: the training stack
    assert not locked & {"torch", "onnx"}


def test_the_app_dependencies_are_all_locked_for_windows():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    locked = {toolchain_name(name) for name in toolchain.lock_entries()}
    for requirement in project["dependencies"]:
        name = toolchain_name(requirement.split(">")[0].split("=")[0].split("!")[0].split("<")[0])
        assert name in locked, f"{name} (pyproject.toml) is missing from build/windows/requirements.txt"


# --- the Windows CPython -----------------------------------------------------------------------


def _fake_sdist(tmp_path: Path, members: dict[str, bytes]) -> Path:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    sdist = tmp_path / cpython.SDIST_FILE
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo(cpython.DATA_ZIP)
        info.size = len(data.getvalue())
        tar.addfile(info, io.BytesIO(data.getvalue()))
    return sdist


def test_unpack_takes_python_org_files_and_pip_but_not_winpython_additions(tmp_path):
    sdist = _fake_sdist(tmp_path, {
        "cp311/python.exe": b"MZ exe",
        "cp311/DLLs/_ssl.pyd": b"MZ pyd",
        "cp311/Lib/os.py": b"# stdlib",
        "cp311/Lib/site-packages/pip/__init__.py": b"# pip",
        "cp311/Lib/site-packages/pip-24.2.dist-info/METADATA": b"Name: pip",
        "cp311/Lib/site-packages/winpython/__init__.py": b"# not used",
        "cp311/Lib/site-packages/setuptools/__init__.py": b"# the lock's own version is installed",
        "cp311/Scripts/pip.exe": b"MZ launcher",
        "cp312/python.exe": b"another version",
    })  # fmt: skip
    root = cpython.unpack(sdist, tmp_path / "Py311")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [
        "DLLs/_ssl.pyd",
        "Lib/os.py",
        "Lib/site-packages/pip-24.2.dist-info/METADATA",
        "Lib/site-packages/pip/__init__.py",
        "python.exe",
    ]


def test_unpack_refuses_a_member_outside_the_python_folder(tmp_path):
    sdist = _fake_sdist(tmp_path, {"cp311/../../evil.dll": b"MZ"})
    with pytest.raises(cpython.SignatureError, match="unsafe member name"):
        cpython.unpack(sdist, tmp_path / "Py311")


@pytest.mark.skipif(
    not shutil.which("osslsigncode"), reason="osslsigncode is not installed (apt-get install osslsigncode)"
)
def test_an_unsigned_file_fails_the_signature_check(tmp_path):
    fake = tmp_path / "python311.dll"
    fake.write_bytes(b"MZ" + bytes(500))
    with pytest.raises(cpython.SignatureError, match="python311.dll"):
        cpython.verify_file(fake, tmp_path, cpython.osslsigncode_supports("-ignore-crl"))


def test_a_signer_other_than_the_psf_or_microsoft_is_refused():
    other = cpython.Signature("python311.dll", "/O=Someone Else/CN=Someone Else", "AB" * 32, True, "")
    with pytest.raises(cpython.SignatureError, match="neither the PSF nor Microsoft"):
        cpython._check_signer(other)
    unverified = cpython.Signature("python311.dll", cpython.PSF, "AB" * 32, False, "")
    with pytest.raises(cpython.SignatureError, match="does not verify"):
        cpython._check_signer(unverified)


# --- the provenance audit ----------------------------------------------------------------------


def _record_line(path: str, content: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(content)}"


@pytest.fixture
def fake_prefix(tmp_path, monkeypatch):
    """A build prefix with one wheel (RECORD) and a signed python311.dll, and a onedir build of them."""
    prefix = tmp_path / "prefix"
    python = prefix / "drive_c" / freeze.PYTHON_DIR
    dist_info = python / "Lib" / "site-packages" / "foo-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Name: foo\nVersion: 1.0\n", encoding="utf-8")
    (dist_info / "RECORD").write_text(_record_line("foo/foo.dll", b"MZ foo") + "\n", encoding="utf-8")
    (python / "python311.dll").write_bytes(b"MZ python")
    signatures = tmp_path / "signatures.json"
    cpython.write_record([cpython.Signature("python311.dll", cpython.PSF, "AB" * 32, True, "")], signatures)
    monkeypatch.setattr(freeze, "PREFIX", prefix)
    monkeypatch.setattr(freeze, "SIGNATURES", signatures)
    onedir = tmp_path / "texture-sorter"
    (onedir / "_internal" / "foo").mkdir(parents=True)
    (onedir / "_internal" / "foo" / "foo.dll").write_bytes(b"MZ foo")
    (onedir / "_internal" / "python311.dll").write_bytes(b"MZ python")
    (onedir / "_internal" / "taxonomy.json").write_text("{}", encoding="utf-8")
    (onedir / "texture-sorter.exe").write_bytes(b"MZ bootloader + archive")
    return onedir


def test_the_audit_names_the_source_of_every_binary(fake_prefix):
    origins = {entry["file"]: entry["origin"] for entry in freeze.audit(fake_prefix)}
    assert origins["_internal/foo/foo.dll"] == "wheel foo 1.0: foo/foo.dll"
    assert origins["_internal/python311.dll"].startswith("python.org CPython 3.11.9")
    assert "bootloader" in origins["texture-sorter.exe"]
    assert "_internal/taxonomy.json" not in origins  # data, not a binary


def test_the_audit_fails_a_build_with_a_binary_of_unknown_origin(fake_prefix):
    (fake_prefix / "_internal" / "foo" / "foo.dll").write_bytes(b"MZ changed after install")
    (fake_prefix / "_internal" / "wine-builtin.dll").write_bytes(b"MZ wine")
    with pytest.raises(freeze.AuditError, match="2 binaries of unknown origin") as failure:
        freeze.audit(fake_prefix)
    assert "_internal/wine-builtin.dll" in str(failure.value)


# --- paths and the launcher --------------------------------------------------------------------


def test_windows_path_is_the_z_drive_path_wine_maps(tmp_path):
    assert (
        toolchain.windows_path(tmp_path / "a b" / "c.txt")
        == "Z:" + str(tmp_path).replace("/", "\\") + "\\a b\\c.txt"
    )


def test_the_launcher_takes_qt_platform_option_first():
    import launcher

    assert launcher.take_qt_platform(["-platform", "offscreen", "x.ps2model"]) == (
        "offscreen",
        ["x.ps2model"],
    )
    assert launcher.take_qt_platform(["classify", "-platform"]) == (None, ["classify", "-platform"])
    assert launcher.take_qt_platform(["-platform"]) == (None, ["-platform"])


# --- a real Windows build, when there is one --------------------------------------------------


@pytest.mark.skipif(not shutil.which("wine"), reason="Wine is not installed; CI builds and smoke-tests "
                    "the Windows app with `python build/smoke_test.py --target windows`")  # fmt: skip
@pytest.mark.skipif(
    not (freeze.WINDOWS_DIST / "provenance.json").is_file(),
    reason="no Windows build here (python build/build.py --target windows makes one)",
)
def test_a_built_windows_app_runs_under_wine_and_every_binary_has_a_known_origin(tmp_path):
    from ai import __version__

    onedir = freeze.WINDOWS_DIST / "texture-sorter"
    recorded = {entry["file"] for entry in json.loads((freeze.WINDOWS_DIST / "provenance.json").read_text())}
    binaries = {
        p.relative_to(onedir).as_posix() for p in onedir.rglob("*") if p.suffix.lower() in cpython.PE_SUFFIXES
    }
    assert binaries == recorded
    wine = toolchain.Wine(tmp_path / "prefix")
    wine.boot()
    proc = wine.run(
        [str(onedir / "texture-sorter.exe"), "--version"],
        env={"TEXTURE_SORTER_HOME": toolchain.windows_path(tmp_path)},
    )
    wine.wait()
    assert proc.returncode == 0 and __version__ in proc.stdout, proc.stderr[-500:]
    with pytest.raises(subprocess.CalledProcessError):  # the prefix has no Python: the build carries its own
        subprocess.run(["wine", "python.exe", "--version"], env=wine.env(), capture_output=True, check=True,
                       stdin=subprocess.DEVNULL, timeout=60)  # fmt: skip
