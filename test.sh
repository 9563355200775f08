#!/usr/bin/env bash
# The test command: the fast unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --workspace -- --include-ignored
