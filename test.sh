#!/usr/bin/env bash
# The test command: unit, integration and end-to-end tests (builds the toolchain on first use).
set -euo pipefail
cd "$(dirname "$0")"
# The fault tests fetch sources: from the local mirror when one is there and none is set.
if [ -z "${PYELF_MIRROR:-}" ] && [ -d ../shared/sources ]; then
  export PYELF_MIRROR="$(cd ../shared/sources && pwd)"
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --no-fail-fast -- --include-ignored 2>&1 | tee "$log" || status=$?
# One closing line over all test binaries.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
