#!/usr/bin/env bash
# Prints the packages' maintainer, "NAME <EMAIL>": $VIGIL_MAINTAINER if set, else the git
# identity of the checkout (the one that commits it).
set -euo pipefail
if [ -n "${VIGIL_MAINTAINER:-}" ]; then echo "$VIGIL_MAINTAINER"; exit 0; fi
cd "$(dirname "$0")/.."
name=$(git config user.name 2>/dev/null || true)
email=$(git config user.email 2>/dev/null || true)
[ -n "$name" ] && [ -n "$email" ] || { echo "maintainer: set VIGIL_MAINTAINER='NAME <EMAIL>' (no git identity here)" >&2; exit 1; }
echo "$name <$email>"
