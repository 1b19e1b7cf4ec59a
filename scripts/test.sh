#!/usr/bin/env bash
# Sets everything up and runs the whole test suite, in release mode (numeric tests are ~100× slower
# in debug builds); -enable-testing lets tests use @testable imports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-build
command -v swift >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
swift build --build-tests -c release -Xswiftc -enable-testing
swift test --skip-build -c release -Xswiftc -enable-testing "$@"
