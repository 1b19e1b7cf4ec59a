#!/usr/bin/env bash
# Sets everything up and runs the whole test suite, in release mode (numeric tests are ~100× slower
# in debug builds); -enable-testing lets tests use @testable imports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-build
command -v swift >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
# With ATALP_BACKEND=onednn the tests run on OpenMP workers: let idle ones sleep rather than spin, as
# the CLI does (OpenMPWaitPolicy); a test process cannot set this itself, libgomp reads it when loaded.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
swift build --build-tests -c release -Xswiftc -enable-testing
swift test --skip-build -c release -Xswiftc -enable-testing "$@"
