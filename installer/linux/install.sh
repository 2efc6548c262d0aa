#!/bin/sh
# Installs Game Texture Sorter for the current user, from the unpacked Linux tarball:
#   ./install.sh              app in ~/.local/opt/texture-sorter, `texture-sorter` in ~/.local/bin,
#                             menu entry, icon and the .ps2model file type (double-click imports)
#   ./install.sh --uninstall  removes all that again; your corrections, models, settings and logs stay
#   ./install.sh --uninstall --purge   also deletes them
# Follows XDG_DATA_HOME / XDG_CONFIG_HOME / XDG_CACHE_HOME / XDG_STATE_HOME when set.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
app_dir=$HOME/.local/opt/texture-sorter
bin_dir=$HOME/.local/bin
desktop_file=$data_home/applications/texture-sorter.desktop
mime_file=$data_home/mime/packages/texture-sorter.xml
icon_png=$data_home/icons/hicolor/256x256/apps/texture-sorter.png
icon_svg=$data_home/icons/hicolor/scalable/apps/texture-sorter.svg

refresh_caches() {
    # Optional tools: the menu and file type still work after the next login without them.
    if command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$data_home/mime" >/dev/null 2>&1 || true; fi
    if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database "$data_home/applications" >/dev/null 2>&1 || true; fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t "$data_home/icons/hicolor" >/dev/null 2>&1 || true; fi
}

uninstall() {
    rm -rf "$app_dir"
    # Remove the launcher only when it is ours (a link into the app folder).
    if [ -L "$bin_dir/texture-sorter" ]; then rm -f "$bin_dir/texture-sorter"; fi
    rm -f "$desktop_file" "$mime_file" "$icon_png" "$icon_svg"
    refresh_caches
    if [ "${1:-}" = "--purge" ]; then
        rm -rf "$data_home/texture-sorter" "${XDG_CONFIG_HOME:-$HOME/.config}/texture-sorter" \
            "${XDG_CACHE_HOME:-$HOME/.cache}/texture-sorter" "${XDG_STATE_HOME:-$HOME/.local/state}/texture-sorter"
        echo "Game Texture Sorter and your data were removed."
    else
        echo "Game Texture Sorter was removed. Your corrections, models and settings were kept"
        echo "(in $data_home/texture-sorter and ${XDG_CONFIG_HOME:-$HOME/.config}/texture-sorter)."
    fi
}

install() {
    if [ ! -x "$here/app/texture-sorter" ]; then
        echo "install.sh: $here/app/texture-sorter is missing; run this from the unpacked tarball" >&2
        exit 1
    fi
    # Replace a previous version whole, so no stale library is left behind.
    rm -rf "$app_dir.new"
    mkdir -p "$(dirname "$app_dir")" "$bin_dir" "$(dirname "$desktop_file")" "$(dirname "$mime_file")" \
        "$(dirname "$icon_png")" "$(dirname "$icon_svg")"
    cp -R "$here/app" "$app_dir.new"
    rm -rf "$app_dir"
    mv "$app_dir.new" "$app_dir"
    ln -sf "$app_dir/texture-sorter" "$bin_dir/texture-sorter"
    # The menu entry names the program by its full path: ~/.local/bin is not on every session's PATH.
    sed -e "s|^Exec=texture-sorter |Exec=\"$app_dir/texture-sorter\" |" \
        -e "s|^TryExec=texture-sorter\$|TryExec=$app_dir/texture-sorter|" \
        "$here/texture-sorter.desktop" >"$desktop_file"
    cp "$here/texture-sorter-mime.xml" "$mime_file"
    cp "$here/texture-sorter.png" "$icon_png"
    if [ -f "$here/texture-sorter.svg" ]; then cp "$here/texture-sorter.svg" "$icon_svg"; fi
    refresh_caches
    echo "Installed Game Texture Sorter in $app_dir"
    echo "Start it from the applications menu, or run: $bin_dir/texture-sorter"
}

case "${1:-}" in
    "") install ;;
    --uninstall) uninstall "${2:-}" ;;
    -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "install.sh: unknown option $1 (use --uninstall [--purge])" >&2; exit 2 ;;
esac
