#!/usr/bin/env bash
# Builds the Debian package from a built checkout (npm ci, then tsc: dist/ and the native
# addon in build/Release):
#
#   bash packaging/build-deb.sh [OUTPUT_DIR]      -> OUTPUT_DIR/vigil_VERSION_ARCH.deb
#
# Layout: the daemon in /usr/lib/vigil (compiled JavaScript, the schema, the addon and the
# production node_modules), /usr/bin/vigil, the annotated default /etc/vigil/vigil.yaml
# (a conffile), the systemd unit, and /var/lib/vigil (0700) made by postinst.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(realpath -m "${1:-dist/packages}")
version=$(node -p "require('./package.json').version")
arch=$(dpkg --print-architecture)
[ -f dist/src/cli/main.js ] || { echo "build-deb: dist/ is missing: run npm run build first" >&2; exit 1; }
[ -f build/Release/vigil_native.node ] || { echo "build-deb: the native addon is missing: run npm run build:native first" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
lib="$root/usr/lib/vigil"
install -d -m 0755 "$lib/dist" "$lib/build/Release" "$lib/node_modules" "$root/usr/bin" "$root/etc/vigil" \
  "$root/lib/systemd/system" "$root/usr/share/doc/vigil" "$root/DEBIAN"

cp -r dist/src "$lib/dist/src"
find "$lib/dist" -name '*.map' -delete
cp -r schema package.json "$lib/"
install -m 0644 build/Release/vigil_native.node "$lib/build/Release/"
# The production dependencies only, as npm resolved them.
npm ls --omit=dev --parseable --all 2>/dev/null | tail -n +2 | while read -r dir; do
  cp -r "$dir" "$lib/node_modules/"
done

cat > "$root/usr/bin/vigil" <<'SH'
#!/bin/sh
exec /usr/bin/node /usr/lib/vigil/dist/src/cli/main.js "$@"
SH
chmod 0755 "$root/usr/bin/vigil"
install -m 0644 etc/vigil.yaml "$root/etc/vigil/vigil.yaml"
install -m 0644 packaging/vigil.service "$root/lib/systemd/system/vigil.service"
install -m 0644 README.md docs/config.md docs/monitoring.md "$root/usr/share/doc/vigil/"
# The D-Bus policy for org.keepalived.Vrrp1 (root owns and calls; others read). Under its
# own file name: keepalived's package ships org.keepalived.Vrrp1.conf itself.
install -D -m 0644 packaging/dbus/org.keepalived.Vrrp1.conf "$root/usr/share/dbus-1/system.d/vigil-org.keepalived.Vrrp1.conf"
install -D -m 0644 packaging/grafana/vigil-dashboard.json "$root/usr/share/doc/vigil/grafana/vigil-dashboard.json"

size=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: vigil
Version: $version
Architecture: $arch
Maintainer: vigil maintainers <vigil@localhost>
Installed-Size: $size
Depends: nodejs (>= 20), iproute2
Recommends: nftables, iputils-ping
Suggests: haproxy, nginx, resource-agents
Section: net
Priority: optional
Description: lean high-availability daemon: VRRP, quorum and resources
 VRRP v2/v3 (IPv4 and IPv6, wire compatible with keepalived and FRR), quorum in the
 manner of corosync votequorum, and a small Pacemaker-like resource manager for VIPs,
 haproxy and nginx, in one Node.js process.
CONTROL
echo /etc/vigil/vigil.yaml > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  install -d -m 0700 /var/lib/vigil
  if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
fi
SH
chmod 0755 "$root/DEBIAN/postinst"

mkdir -p "$out"
dpkg-deb --root-owner-group --build "$root" "$out/vigil_${version}_${arch}.deb" >/dev/null
echo "$out/vigil_${version}_${arch}.deb"
