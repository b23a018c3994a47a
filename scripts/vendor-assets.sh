#!/usr/bin/env bash
# Fetches the vendored page libraries (and the free-mail domain list) again from the npm registry and checks them against
# assets/vendor/SHA256SUMS. Only needed to check or upgrade them: the build embeds the files
# already in assets/vendor/ (no Node at build or run time). Needs npm.
set -euo pipefail
cd "$(dirname "$0")/.."
HTMX=htmx.org@2.0.11
UPLOT=uplot@1.6.32
FREEMAIL=free-email-domains@1.12.6
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$HTMX" "$UPLOT" "$FREEMAIL" >/dev/null)
for t in "$work"/*.tgz; do mkdir -p "${t%.tgz}" && tar xzf "$t" -C "${t%.tgz}"; done
h=$(ls -d "$work"/htmx.org-*/package) u=$(ls -d "$work"/uplot-*/package)
f=$(ls -d "$work"/free-email-domains-*/package)
out=${1:-assets/vendor}
mkdir -p "$out"
cp "$h/dist/htmx.min.js" "$out/" && cp "$h/LICENSE" "$out/htmx.LICENSE"
cp "$u/dist/uPlot.iife.min.js" "$u/dist/uPlot.min.css" "$out/" && cp "$u/LICENSE" "$out/uPlot.LICENSE"
cp "$f/domains.json" "$out/free-email-domains.json" && cp "$f/LICENSE.md" "$out/free-email-domains.LICENSE"
(cd "$out" && sha256sum -c "$OLDPWD/assets/vendor/SHA256SUMS")
