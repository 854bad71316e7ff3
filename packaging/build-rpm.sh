#!/usr/bin/env bash
# Builds the rpm from a built checkout (npm ci, then npm run build), with rpmbuild (Debian's
# rpm package has it):
#
#   bash packaging/build-rpm.sh [OUTPUT_DIR]      -> OUTPUT_DIR/vigil-VERSION-1.ARCH.rpm
#
# From the same staged tree as the deb (packaging/stage.sh); packaging/vigil.spec takes
# its file list, written here from that tree: directories the package owns as %dir, the
# config as %config(noreplace), /var/lib/vigil 0700, the doc directory's files as %doc
# and the copyright as %license. The version is package.json's.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(realpath -m "${1:-dist/packages}")
version=$(node -p "require('./package.json').version")
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
command -v rpmbuild >/dev/null || { echo "build-rpm: rpmbuild is missing (apt-get install rpm)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/stage"
bash packaging/stage.sh "$stage"

# The file list. Shared directories (/usr/bin, /usr/lib/systemd/system, ...) belong to
# the filesystem package: only vigil's own directories are listed.
{
  (cd "$stage" && find . -mindepth 1 \( -type f -o -type l \) -printf '/%P\n' | LC_ALL=C sort) | while read -r f; do
    case $f in
      /etc/vigil/vigil.yaml) echo "%config(noreplace) $f" ;;
      /usr/share/doc/vigil/copyright) echo "%license $f" ;;
      /usr/share/doc/vigil/*) echo "%doc $f" ;;
      *) echo "$f" ;;
    esac
  done
  echo '%dir /etc/vigil'
  echo '%dir %attr(0700,root,root) /var/lib/vigil'
  echo '%dir /usr/share/doc/vigil'
  (cd "$stage" && find usr/lib/vigil -type d -printf '%%dir /%p\n' | LC_ALL=C sort)
} > "$work/files.list"

mkdir -p "$out" "$work/top"
rpmbuild -bb --quiet \
  --define "_topdir $work/top" \
  --define "_rpmdir $work/rpms" \
  --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
  --define "vigil_version $version" \
  --define "vigil_stage $stage" \
  --define "vigil_files $work/files.list" \
  --define "vigil_maintainer $(bash packaging/maintainer.sh)" \
  --define "vigil_date $(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')" \
  --define "use_source_date_epoch_as_buildtime 1" \
  --define "clamp_mtime_to_source_date_epoch 1" \
  --define "_buildhost vigil-build" \
  packaging/vigil.spec >&2
rpm=$(find "$work/rpms" -name '*.rpm' | head -n 1)
[ -n "$rpm" ] || { echo "build-rpm: rpmbuild made no package" >&2; exit 1; }
cp "$rpm" "$out/"
echo "$out/$(basename "$rpm")"
