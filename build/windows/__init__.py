"""The Windows build made on Linux: Wine, a checked Windows CPython, PyInstaller, Inno Setup, smoke test.

    python build/build.py --target windows       # → build/dist/windows/texture-sorter/ + the installer
    python build/smoke_test.py --target windows  # drives both under Wine

toolchain.py installs and runs the tools (Debian's Wine, the Windows CPython of cpython.py, the
pinned wheels of requirements.txt); freeze.py builds the onedir app and audits where each of its
binaries came from; installer.py compiles installer/texture_sorter.iss; smoke.py tests the result.
"""
