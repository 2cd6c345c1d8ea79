#!/usr/bin/env bash
# Puts promtool (Prometheus's rule checker) at $1, for `make test`: the one on PATH if there is
# one, else the binary from Debian's `prometheus` package, unpacked without installing it (no
# root, no service started). On a machine without apt, install promtool on PATH instead.
set -euo pipefail
target="$(realpath -m "$1")"
mkdir -p "$(dirname "$target")"
if command -v promtool >/dev/null 2>&1; then
  ln -sf "$(command -v promtool)" "$target"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null
  else
    echo "get-promtool: cannot download Debian's prometheus package; install promtool on PATH" >&2
    exit 1
  fi
fi
dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool
install -m 0755 usr/bin/promtool "$target"
"$target" --version | head -n 1
