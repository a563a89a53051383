#!/usr/bin/env bash
# Install `promtool` (Prometheus' rule checker) into a bin directory, default .venv/bin.
#
#   deploy/tools/install-promtool.sh [BIN_DIR]
#
# Idempotent: does nothing when BIN_DIR/promtool exists. promtool is not on PyPI; it
# comes from Debian's `prometheus` package (19 MB download). The package is only
# downloaded and unpacked (`apt-get download` + `dpkg -x`), never installed, so no
# Prometheus server is set up or started. Needs apt (Debian/Ubuntu); runs
# `apt-get update` first when the package lists do not know the package yet.
set -euo pipefail
bin_dir="${1:-.venv/bin}"
target="$bin_dir/promtool"
if [[ -x "$target" ]]; then
    exit 0
fi
mkdir -p "$bin_dir"
if command -v promtool >/dev/null 2>&1; then
    ln -sf "$(command -v promtool)" "$target"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-promtool: no apt-get here; install promtool (Prometheus >= 2.42) and put it on PATH" >&2
    exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download prometheus >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get download prometheus >/dev/null
fi
dpkg -x prometheus_*.deb unpacked
cd - >/dev/null
install -m 0755 "$work/unpacked/usr/bin/promtool" "$target"
"$target" --version | head -1
