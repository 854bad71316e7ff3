#!/usr/bin/env bash
# Builds the Debian package from a built checkout (npm ci, then npm run build):
#
#   bash packaging/build-deb.sh [OUTPUT_DIR]      -> OUTPUT_DIR/vigil_VERSION_ARCH.deb
#
# The files are the tree packaging/stage.sh makes (the rpm is made from the same tree),
# the maintainer scripts are packaging/deb/. The version is package.json's; the libraries
# the addon links come from dpkg-shlibdeps.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(realpath -m "${1:-dist/packages}")
version=$(node -p "require('./package.json').version")
arch=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
bash packaging/stage.sh "$root"

install -d -m 0755 "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
maintainer=$(bash packaging/maintainer.sh)
# The addon's libraries (libc6, libstdc++6) as dpkg-shlibdeps finds them.
mkdir -p "$work/debian"
printf 'Source: vigil\n\nPackage: vigil\nArchitecture: any\n' > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O root/usr/lib/vigil/build/Release/vigil_native.node 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build-deb: dpkg-shlibdeps found no libraries for the addon" >&2; exit 1; }
cat > "$root/DEBIAN/control" <<CONTROL
Package: vigil
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: nodejs (>= 20), iproute2, $shlibs
Recommends: nftables, iputils-ping
Suggests: haproxy, nginx, resource-agents
Section: net
Priority: optional
Description: lean high-availability daemon: VRRP, quorum and resources
 VRRP v2/v3 (IPv4 and IPv6, wire compatible with keepalived and FRR),
 quorum in the manner of corosync votequorum, and a small Pacemaker-like
 resource manager for VIPs, haproxy and nginx, in one Node.js process.
CONTROL
echo /etc/vigil/vigil.yaml > "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "packaging/deb/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/vigil_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
