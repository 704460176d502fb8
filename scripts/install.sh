#!/bin/sh
# Publishes the vellum tool into a folder of its own, so that a `vellum` command can go on PATH.
#   scripts/install.sh [dir]     (default: ~/.local/share/vellum)
# The result is framework-dependent: it needs the .NET 10 runtime that the SDK brings. Run it again to update.
set -eu

dir="${1:-$HOME/.local/share/vellum}"
repo="$(cd "$(dirname "$0")/.." && pwd)"

dotnet publish "$repo/src/Vellum.Cli" -c Release -o "$dir" --nologo -v quiet
if [ ! -x "$dir/vellum" ]; then
    echo "install.sh: $dir/vellum was not made" >&2
    exit 1
fi

echo "vellum is in $dir; to run it as 'vellum', add it to PATH (e.g. in ~/.profile):"
echo "  export PATH=\"$dir:\$PATH\""
