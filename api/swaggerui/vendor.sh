#!/usr/bin/env bash
# Vendors Swagger UI from the npm registry into dist/, for the gateway's offline /docs page.
#
#   api/swaggerui/vendor.sh           fetch the pinned version and write dist/
#   api/swaggerui/vendor.sh --check   fail when dist/ differs from the pinned package
#
# `npm pack` fetches the package tarball and npm checks it against the registry's integrity
# hash; the script then checks that hash against the pinned one below, so a changed tarball is
# refused even when the registry serves it. Only the files /docs needs are kept.
set -euo pipefail
cd "$(dirname "$0")"

VERSION=5.35.0
INTEGRITY=sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
FILES=(LICENSE NOTICE package.json swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent --json "swagger-ui-dist@$VERSION" >pack.json)
got=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]))[0].integrity)' "$work/pack.json")
if [ "$got" != "$INTEGRITY" ]; then
  echo "swagger-ui-dist@$VERSION: integrity $got, want $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$work/swagger-ui-dist-$VERSION.tgz" -C "$work"

if [ "${1:-}" = "--check" ]; then
  status=0
  for f in "${FILES[@]}"; do
    if ! cmp -s "$work/package/$f" "dist/$f"; then
      echo "api/swaggerui/dist/$f differs from swagger-ui-dist@$VERSION" >&2
      status=1
    fi
  done
  extra=$(cd dist && ls | grep -vxF "$(printf '%s\n' "${FILES[@]}")" || true)
  if [ -n "$extra" ]; then
    echo "api/swaggerui/dist has files not from the package: $extra" >&2
    status=1
  fi
  [ "$status" = 0 ] && echo "api/swaggerui/dist matches swagger-ui-dist@$VERSION"
  exit "$status"
fi

rm -rf dist
mkdir dist
for f in "${FILES[@]}"; do
  cp "$work/package/$f" "dist/$f"
done
echo "vendored swagger-ui-dist@$VERSION into api/swaggerui/dist"
