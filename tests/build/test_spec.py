"""Fast checks of the packaging sources: PyInstaller spec rules, Inno Setup script, Linux desktop files.

Nothing here builds; tests/build/test_frozen_build.py inspects a real build.
"""

from __future__ import annotations

import ast
import configparser
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "build" / "texture_sorter.spec"
ISS = ROOT / "installer" / "texture_sorter.iss"
LINUX = ROOT / "installer" / "linux"
DESKTOP = LINUX / "texture-sorter.desktop"
MIME_XML = LINUX / "texture-sorter-mime.xml"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


# --- the PyInstaller spec ---------------------------------------------------------------------


def _spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def _analysis_call() -> ast.Call:
    calls = [
        node
        for node in ast.walk(_spec_tree())
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Analysis"
    ]
    assert len(calls) == 1, "the spec should run one Analysis"
    return calls[0]


def test_spec_passes_the_shared_exclude_list_to_analysis():
    excludes = {kw.arg: ast.unparse(kw.value) for kw in _analysis_call().keywords}["excludes"]
    assert excludes == "list(rules.EXCLUDES)"


@pytest.mark.parametrize(
    "module",
    [
        "torch",
        "torchvision",
        "onnx",
        "matplotlib",
        "scipy",
        "pandas",
        "tkinter",
        "IPython",
        "pytest",
        "models.recipe",
    ],
)
def test_heavy_and_development_modules_are_excluded(rules, module):
    assert module in rules.EXCLUDES


@pytest.mark.parametrize(
    "qt_module",
    ["QtWebEngineCore", "Qt3DCore", "QtQuick", "QtQml", "QtMultimedia", "QtCharts", "QtDesigner", "QtPdf"],
)
def test_unused_qt_modules_are_excluded(rules, qt_module):
    assert f"PySide6.{qt_module}" in rules.EXCLUDES


def _imports(path: Path, *, module_level_only: bool) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    names = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _is_excluded(name: str, excludes: tuple[str, ...]) -> bool:
    return any(name == ex or name.startswith(ex + ".") for ex in excludes)


def test_no_module_level_import_of_the_app_is_excluded_from_the_build(rules):
    # A module-level import of an excluded module would crash the frozen app at start.
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for folder in ("ai", "app")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in _imports(path, module_level_only=True)
        if _is_excluded(name, rules.EXCLUDES)
    ]
    assert offenders == []


def test_the_gui_uses_no_excluded_qt_module_anywhere(rules):
    qt_excludes = tuple(ex for ex in rules.EXCLUDES if ex.startswith("PySide6."))
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "app").rglob("*.py"))
        for name in _imports(path, module_level_only=False)
        if _is_excluded(name, qt_excludes)
    ]
    assert offenders == [], "the frozen GUI would fail there; drop the module from bundle_rules.EXCLUDES"


def test_spec_collects_the_plugin_style_packages(rules):
    # app.cli finds subcommands with pkgutil and providers are a registry: PyInstaller cannot see them.
    assert {"app", "ai"} <= set(rules.COLLECT_SUBMODULES)
    assert "collect_submodules(package" in SPEC.read_text(encoding="utf-8")


def test_data_files_put_resources_and_models_where_ai_paths_looks(rules):
    pairs = rules.data_files(ROOT)
    bundled = {str(PurePosixPath(dest, Path(src).name)) for src, dest in pairs}
    assert rules.BUNDLED_TAXONOMY in bundled
    expected = {
        str(PurePosixPath(p.relative_to(ROOT).as_posix()))
        for folder in ("resources",)
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and p.suffix in {".json", ".qss", ".svg", ".png", ".ico"}
    }
    assert expected <= bundled, sorted(expected - bundled)
    if (ROOT / rules.BUNDLED_MODEL).is_file():
        assert rules.BUNDLED_MODEL in bundled
    for src, dest in pairs:
        assert Path(src).relative_to(ROOT).parent.as_posix() == dest


def test_data_files_leave_out_python_sources_the_training_recipe_and_the_float_model(rules):
    bundled = [str(PurePosixPath(dest, Path(src).name)) for src, dest in rules.data_files(ROOT)]
    assert not [name for name in bundled if name.endswith((".py", ".pyc")) or "/recipe/" in name + "/"]
    assert not [name for name in bundled if name.startswith("models/recipe")]
    # the int8 default is bundled, its float original (source installs' `--model`) is not
    assert "models/default.onnx" in bundled and (ROOT / "models" / "default-float.onnx").is_file()
    assert "models/default-float.onnx" not in bundled


@pytest.mark.parametrize(
    ("plugin_type", "file_name", "kept"),
    [
        ("platforms", "libqoffscreen.so", True),
        ("platforms", "libqxcb.so", True),
        ("platforms", "libqwayland.so", True),
        ("platforms", "libqminimal.so", True),
        ("platforms", "qwindows.dll", True),
        ("platforms", "libqminimalegl.so", False),
        ("platforms", "libqeglfs.so", False),
        ("platforms", "libqvnc.so", False),
        ("platforms", "libqlinuxfb.so", False),
        ("imageformats", "libqjpeg.so", True),
        ("imageformats", "qico.dll", True),
        ("imageformats", "libqsvg.so", True),
        ("imageformats", "libqtiff.so", False),
        ("imageformats", "libqwebp.so", False),
        ("imageformats", "libqpdf.so", False),
        ("iconengines", "libqsvgicon.so", True),
        ("styles", "qmodernwindowsstyle.dll", True),
        ("platforminputcontexts", "libcomposeplatforminputcontextplugin.so", True),
        ("platforminputcontexts", "libqtvirtualkeyboardplugin.so", False),
        ("sqldrivers", "libqsqlite.so", False),
        ("qmltooling", "libqmldbg_debugger.so", False),
        ("egldeviceintegrations", "libqeglfs-kms-integration.so", False),
        ("platformthemes", "libqgtk3.so", False),
        ("tls", "libqopensslbackend.so", False),
    ],
)
def test_qt_plugin_rules(rules, plugin_type, file_name, kept):
    assert (
        rules.keep_qt_plugin(plugin_type, f"/site-packages/PySide6/Qt/plugins/{plugin_type}/{file_name}")
        is kept
    )


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", False),
        ("PySide6\\plugins\\platforms\\qwindows.dll", True),
        ("PySide6/Qt/translations/qtbase_de.qm", False),
        ("PySide6/translations/qtbase_fr.qm", False),
        ("onnxruntime/capi/libonnxruntime.so.1.32.0", False),
        ("onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so", True),
        ("onnxruntime\\capi\\onnxruntime.dll", False),
        ("onnxruntime\\capi\\onnxruntime_providers_shared.dll", True),
        ("onnxruntime\\capi\\onnxruntime_pybind11_state.pyd", True),
        ("PySide6\\opengl32sw.dll", False),
        ("PySide6\\Qt6Widgets.dll", True),
        ("PySide6/Qt/lib/libQt6Widgets.so.6", True),
        ("resources/taxonomy.json", True),
    ],
)
def test_bundle_entry_rules(rules, dest, kept):
    assert rules.keep_bundle_entry(dest) is kept


def test_only_the_python_runtime_is_stripped(rules):
    prefix = "/root/.pyenv/versions/3.11.7"
    assert rules.is_python_runtime_binary(f"{prefix}/lib/libpython3.11.so.1.0", prefix)
    assert rules.is_python_runtime_binary(f"{prefix}/lib/python3.11/lib-dynload/_ssl.so", prefix)
    assert not rules.is_python_runtime_binary(
        f"{prefix}/lib/python3.11/site-packages/numpy.libs/x.so", prefix
    )
    assert not rules.is_python_runtime_binary("/usr/lib/x86_64-linux-gnu/libssl.so.3", prefix)


def test_pynacl_ships_with_cffi_backend_and_its_library_stripped(rules):
    # Package signatures need PyNaCl, whose compiled module loads cffi's run-time half from C.
    assert "_cffi_backend" in rules.HIDDEN_IMPORTS and "_cffi_backend" not in rules.EXCLUDES
    assert "cryptography" in rules.EXCLUDES  # the 15 MB alternative stays out
    assert rules.is_unstripped_wheel_binary("nacl/_sodium.abi3.so")
    assert not rules.is_unstripped_wheel_binary("numpy.libs/libscipy_openblas64_.so")
    assert not rules.is_unstripped_wheel_binary("nacl/bindings/__init__.py")


@pytest.mark.parametrize(
    ("version", "numbers"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2.3.4", (1, 2, 3, 4)), ("2.0.0rc1", (2, 0, 0, 1)), ("3", (3, 0, 0, 0))],
)
def test_version_tuple(rules, version, numbers):
    assert rules.version_tuple(version) == numbers


def test_windows_version_resource_carries_the_app_version(rules):
    from ai import __version__

    text = rules.version_info_text(__version__)
    call = ast.parse(text.split("\n", 1)[1], mode="eval").body
    ffi = next(kw.value for kw in call.keywords if kw.arg == "ffi")
    filevers = next(kw.value for kw in ffi.keywords if kw.arg == "filevers")
    assert ast.literal_eval(filevers) == rules.version_tuple(__version__)
    assert f"StringStruct('ProductVersion', '{__version__}')" in text
    assert f"'{rules.WINDOWS_GUI_NAME}.exe'" in text


@pytest.mark.skipif(
    not sys.platform.startswith("win"), reason="PyInstaller reads version files only on Windows"
)
def test_pyinstaller_reads_the_version_resource(rules, tmp_path):
    versioninfo = pytest.importorskip("PyInstaller.utils.win32.versioninfo")
    from ai import __version__

    path = tmp_path / "version_info.txt"
    path.write_text(rules.version_info_text(__version__), encoding="utf-8")
    info = versioninfo.load_version_info_from_text_file(str(path))
    assert info.ffi.fileVersionMS >> 16 == rules.version_tuple(__version__)[0]
    assert "ProductVersion" in str(info)


def test_windows_executables_are_a_windowed_and_a_console_one(rules):
    assert rules.executable_names("win32") == ["TextureSorter.exe", "texture-sorter.exe"]
    assert rules.executable_names("linux") == ["texture-sorter"]
    text = SPEC.read_text(encoding="utf-8")
    assert "console=not windows" in text and "name=rules.WINDOWS_CLI_NAME, console=True" in text


# --- the Inno Setup script --------------------------------------------------------------------


class InnoScript:
    """A small reader for the parts of Inno Setup syntax the script uses: ISPP #define, sections,
    `Key=Value` [Setup] lines and `Name: value; Name: value` entries, and the [Code] text."""

    def __init__(self, path: Path):
        self.path = path
        self.defines: dict[str, str] = {}
        self.sections: dict[str, list[str]] = {}
        section = None
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if section != "Code" and (not line or line.startswith(";")):
                continue
            if line.startswith("#"):
                self._directive(line, number)
                continue
            header = re.fullmatch(r"\[(\w+)\]", line)
            if header:
                section = header[1]
                assert section not in self.sections, f"line {number}: section [{section}] twice"
                self.sections[section] = []
                continue
            assert section, f"line {number}: text before the first section"
            self.sections[section].append(self.expand(raw if section == "Code" else line, number))

    def _directive(self, line: str, number: int) -> None:
        match = re.fullmatch(r"#define\s+(\w+)\s+(.*)", line)
        if match:
            value = match[2].strip()
            string = re.fullmatch(r'"([^"]*)"', value)
            # Computed defines (file version of the built exe) stand in as a placeholder.
            self.defines.setdefault(match[1], string[1] if string else f"<{match[1]}>")
            return
        assert re.match(r"#(ifndef|ifdef|if|else|endif)\b", line), f"line {number}: unknown directive {line}"

    def expand(self, text: str, number: int = 0) -> str:
        def replace(match: re.Match) -> str:
            name = match[1]
            assert name in self.defines, f"line {number}: {{#{name}}} is not defined"
            return self.defines[name]

        return re.sub(r"\{#(\w+)\}", replace, text)

    def setup(self) -> dict[str, str]:
        pairs = {}
        for line in self.sections["Setup"]:
            key, sep, value = line.partition("=")
            assert sep, f"[Setup] line without '=': {line}"
            pairs[key.strip()] = value.strip()
        return pairs

    def entries(self, section: str) -> list[dict[str, str]]:
        return [self._entry(line) for line in self.sections.get(section, [])]

    @staticmethod
    def _entry(line: str) -> dict[str, str]:
        fields, rest = {}, line
        while rest:
            match = re.match(r'\s*(\w+):\s*("(?:[^"]|"")*"|[^;"]*)\s*(?:;|$)', rest)
            assert match, f"cannot parse entry: {line}"
            value = match[2].strip()
            if value.startswith('"'):
                value = value[1:-1].replace('""', '"')
            fields[match[1]] = value
            rest = rest[match.end() :]
        return fields

    def code(self) -> str:
        return "\n".join(self.sections["Code"])


@pytest.fixture(scope="module")
def iss() -> InnoScript:
    return InnoScript(ISS)


def _windows_path(base: Path, relative: str) -> Path:
    return (base / Path(*PureWindowsPath(relative).parts)).resolve()


def test_inno_script_has_the_sections_an_installer_needs(iss):
    assert {"Setup", "Files", "Icons", "Registry", "Tasks", "Run", "Code"} <= set(iss.sections)


def test_inno_setup_names_the_app_and_keeps_its_app_id(iss, rules):
    setup = iss.setup()
    assert setup["AppId"] == "{" + rules.APP_ID  # "{{" is Inno's escaped "{"
    assert setup["AppName"] == rules.APP_TITLE
    assert setup["AppVersion"]
    assert setup["ChangesAssociations"] == "yes"
    # {autopf} (Program Files, or %LOCALAPPDATA%\Programs per user), through a Wine fallback.
    assert setup["DefaultDirName"].startswith("{code:ProgramsFolder}\\")
    programs = iss.code()[iss.code().index("function ProgramsFolder") :]
    assert programs.index("ExpandConstant('{autopf}')") < programs.index("{localappdata}\\Programs")


def test_inno_source_files_exist_or_come_from_the_build(iss, rules, build_script):
    installer = ISS.parent
    assert _windows_path(installer, iss.setup()["SetupIconFile"]).is_file()
    onedir = (build_script.WINDOWS_DIST / rules.BUNDLE_NAME).resolve()
    sources = [entry["Source"] for entry in iss.entries("Files")]
    assert sources
    for source in sources:
        path = _windows_path(installer, source.rstrip("*").rstrip("\\"))
        assert path.exists() or path == onedir or onedir in path.parents, (
            f"{source}: not in the repo or the build"
        )
    # The build output the installer copies holds the executables it starts.
    assert any(_windows_path(installer, s.rstrip("*").rstrip("\\")) == onedir for s in sources)
    built = set(rules.executable_names("win32"))
    for entry in iss.entries("Icons") + iss.entries("Run"):
        assert PureWindowsPath(entry["Filename"]).name in built, entry


def test_inno_output_goes_to_the_ignored_build_folder(iss):
    out = _windows_path(ISS.parent, iss.setup()["OutputDir"])
    assert (ROOT / "build" / "dist") in [out, *out.parents]


def test_inno_associates_ps2model_packages_with_the_windowed_app(iss, rules):
    registry = {(e["Subkey"], e["ValueName"]): e for e in iss.entries("Registry")}
    ext = rules.PACKAGE_EXTENSION
    prog_id = registry[(f"Software\\Classes\\{ext}", "")]["ValueData"]
    assert registry[(f"Software\\Classes\\{ext}", "Content Type")]["ValueData"] == rules.PACKAGE_MIME_TYPE
    command = registry[(f"Software\\Classes\\{prog_id}\\shell\\open\\command", "")]
    assert command["ValueData"] == f'"{{app}}\\{rules.WINDOWS_GUI_NAME}.exe" "%1"'
    assert (f"Software\\Classes\\{prog_id}\\DefaultIcon", "") in registry
    assert all(e["Root"] == "HKA" for e in registry.values())
    # Uninstalling removes the association again.
    assert "uninsdeletekey" in registry[(f"Software\\Classes\\{prog_id}", "")]["Flags"]


def test_inno_uninstaller_keeps_user_data_unless_the_box_is_ticked(iss):
    code = iss.code()
    assert "UninstallDelete" not in iss.sections, "[UninstallDelete] would delete data without asking"
    deletions = re.findall(r"^.*DelTree\(.*$", code, re.M)
    assert len(deletions) == 1
    guard = code[: code.index(deletions[0])].rstrip().splitlines()[-1]
    assert re.search(r"\bif\b.*\band DeleteUserData then$", guard.strip()), guard
    assert re.search(r"Box\.Checked := False;", code)
    assert re.search(r"DeleteUserData := Result and Box\.Checked;", code)
    initialize = code[code.index("function InitializeUninstall") :]
    assert initialize.index("DeleteUserData := False;") < initialize.index("UninstallSilent")


def test_inno_user_data_folder_is_the_one_platformdirs_uses_on_windows(iss, monkeypatch):
    from platformdirs.windows import Windows

    from ai.paths import APP_NAME

    # platformdirs' documented override, so the Windows layout can be computed on any OS.
    monkeypatch.setenv("WIN_PD_OVERRIDE_LOCAL_APPDATA", r"C:\Users\u\AppData\Local")
    dirs = Windows(APP_NAME, appauthor=False)
    assert iss.defines["UserDataDir"] == "{localappdata}\\" + APP_NAME
    root = PureWindowsPath(r"C:\Users\u\AppData\Local", APP_NAME)
    for folder in (dirs.user_data_dir, dirs.user_config_dir, dirs.user_cache_dir, dirs.user_log_dir):
        assert PureWindowsPath(folder) == root or root in PureWindowsPath(folder).parents, folder


def test_inno_pascal_blocks_are_balanced(iss):
    code = re.sub(r"\{[^}]*\}|'[^']*'|//[^\n]*", "", iss.code())  # drop comments and strings
    words = re.findall(r"\b(begin|try|case|end)\b", code, re.I)
    opened = sum(w.lower() in {"begin", "try", "case"} for w in words)
    assert opened == sum(w.lower() == "end" for w in words)


@pytest.mark.skipif(not shutil.which("iscc"), reason="Inno Setup's iscc is only on Windows build machines")
def test_inno_script_compiles(tmp_path):
    subprocess.run(["iscc", "/Q", f"/O{tmp_path}", str(ISS)], check=True)


# --- Linux desktop integration ----------------------------------------------------------------


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_starts_the_app_with_files_and_claims_ps2model(rules):
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == rules.APP_TITLE
    program, *args = entry["Exec"].split()
    assert program == rules.BUNDLE_NAME and args in (["%F"], ["%f"])
    assert entry["Icon"] == rules.BUNDLE_NAME
    assert rules.PACKAGE_MIME_TYPE in entry["MimeType"].rstrip(";").split(";")
    assert entry["Terminal"] == "false"


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils is not installed")
def test_desktop_entry_passes_desktop_file_validate():
    proc = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_mime_type_maps_the_package_extension(rules):
    root = ET.parse(MIME_XML).getroot()
    assert root.tag == f"{MIME_NS}mime-info"
    (mime,) = root.findall(f"{MIME_NS}mime-type")
    assert mime.get("type") == rules.PACKAGE_MIME_TYPE
    assert [g.get("pattern") for g in mime.findall(f"{MIME_NS}glob")] == [f"*{rules.PACKAGE_EXTENSION}"]
    assert mime.find(f"{MIME_NS}sub-class-of").get("type") == "application/zip"


@pytest.mark.skipif(not shutil.which("update-mime-database"), reason="shared-mime-info is not installed")
def test_mime_database_accepts_the_package_type(rules, tmp_path):
    (tmp_path / "packages").mkdir()
    shutil.copy(MIME_XML, tmp_path / "packages")
    subprocess.run(["update-mime-database", str(tmp_path)], check=True, capture_output=True)
    globs = (tmp_path / "globs2").read_text(encoding="utf-8")
    assert f"{rules.PACKAGE_MIME_TYPE}:*{rules.PACKAGE_EXTENSION}" in globs


@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX shell scripts")
@pytest.mark.parametrize(("shell", "script"), [("sh", "install.sh"), ("bash", "make_tarball.sh")])
def test_linux_scripts_parse(shell, script):
    subprocess.run([shell, "-n", str(LINUX / script)], check=True)


def test_tarball_recipe_ships_what_install_sh_installs():
    recipe = (LINUX / "make_tarball.sh").read_text(encoding="utf-8")
    install = (LINUX / "install.sh").read_text(encoding="utf-8")
    for shipped in ("texture-sorter.desktop", "texture-sorter-mime.xml", "texture-sorter.png", "install.sh"):
        assert shipped in recipe
    for used in ('"$here/app"', "texture-sorter.desktop", "texture-sorter-mime.xml", "texture-sorter.png"):
        assert used in install
    assert '"$stage/$name/app"' in recipe
