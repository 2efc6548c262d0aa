#!/usr/bin/env bash
# Packages the onedir build as build/dist/texture-sorter-VERSION-linux-ARCH.tar.gz:
#   app/                    the frozen app (run app/texture-sorter directly, or install it:)
#   install.sh              per-user install into ~/.local (menu entry, icon, .ps2model file type)
#   texture-sorter.desktop, texture-sorter-mime.xml, texture-sorter.png/.svg
# Usage: installer/linux/make_tarball.sh [--build]   (--build runs build/build.py first)
# PYTHON picks the interpreter for --build (default: .venv/bin/python, else python3).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/installer/linux"
dist="$root/build/dist"
app="$dist/texture-sorter"

if [ "${1:-}" = "--build" ]; then
    python=${PYTHON:-}
    if [ -z "$python" ]; then
        if [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"; else python=python3; fi
    fi
    "$python" "$root/build/build.py" --quiet
elif [ -n "${1:-}" ]; then
    echo "make_tarball.sh: unknown option $1 (use --build)" >&2
    exit 2
fi
if [ ! -x "$app/texture-sorter" ]; then
    echo "make_tarball.sh: no build in $app; run python build/build.py first (or pass --build)" >&2
    exit 1
fi
for file in "$root/resources/icons/app.png" "$here/texture-sorter.desktop" "$here/texture-sorter-mime.xml" "$here/install.sh"; do
    if [ ! -f "$file" ]; then echo "make_tarball.sh: $file is missing" >&2; exit 1; fi
done

# Asking the frozen app its version also proves the build starts.
version=$(TEXTURE_SORTER_HOME="$(mktemp -d)" "$app/texture-sorter" --version | awk '{print $NF}')
name="texture-sorter-$version-linux-$(uname -m)"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp -a "$app" "$stage/$name/app"
cp "$here/texture-sorter.desktop" "$here/texture-sorter-mime.xml" "$stage/$name/"
install -m 755 "$here/install.sh" "$stage/$name/install.sh"
cp "$root/resources/icons/app.png" "$stage/$name/texture-sorter.png"
if [ -f "$root/resources/icons/app.svg" ]; then cp "$root/resources/icons/app.svg" "$stage/$name/texture-sorter.svg"; fi

out="$dist/$name.tar.gz"
tar -C "$stage" -czf "$out" "$name"
echo "$out ($(du -h "$out" | cut -f1))"
