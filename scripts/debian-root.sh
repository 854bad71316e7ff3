#!/usr/bin/env bash
# Prints the path of a pristine Debian root (debootstrap --variant=minbase with systemd,
# systemd-sysv and dbus), made once per day and suite and cached under
# ${VIGIL_ROOT_CACHE:-/var/cache/vigil-test}:
#
#   bash scripts/debian-root.sh [SUITE]      (default trixie) -> /var/cache/vigil-test/trixie-YYYYMMDD
#
# Callers copy it before changing anything (cp -a, or an overlay): the cached tree stays
# pristine. Made in a temporary directory and renamed into place, so a debootstrap that
# fails or is interrupted leaves no half-made root behind; roots of earlier days are
# removed. Needs root and debootstrap, and Debian's mirror (DEBIAN_MIRROR overrides).
set -euo pipefail
suite=${1:-trixie}
cache=${VIGIL_ROOT_CACHE:-/var/cache/vigil-test}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root="$cache/$suite-$(date -u +%Y%m%d)"
if [ -x "$root/usr/lib/systemd/systemd" ] || [ -x "$root/lib/systemd/systemd" ]; then
  echo "$root"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debian-root: debootstrap is not installed" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "debian-root: debootstrap needs root" >&2; exit 1; }
mkdir -p "$cache"
# One maker at a time (parallel test runs wait for the first).
exec 9>"$cache/.$suite.lock"
flock 9
if [ -x "$root/usr/lib/systemd/systemd" ]; then echo "$root"; exit 0; fi
tmp=$(mktemp -d "$cache/.$suite-XXXXXX")
chmod 0755 "$tmp"   # mktemp makes it 0700: the root of the container must be 0755
trap 'rm -rf "$tmp"' EXIT
if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus "$suite" "$tmp" "$mirror" >"$tmp.log" 2>&1; then
  echo "debian-root: debootstrap $suite failed; the end of its log:" >&2
  tail -n 20 "$tmp.log" >&2
  rm -f "$tmp.log"
  exit 1
fi
rm -f "$tmp.log"
find "$cache" -maxdepth 1 -name "$suite-*" -type d ! -name "$(basename "$root")" -exec rm -rf {} + 2>/dev/null || true
mv "$tmp" "$root"
trap - EXIT
echo "$root"
