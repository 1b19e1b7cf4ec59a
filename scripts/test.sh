#!/usr/bin/env bash
# Sets everything up and runs the whole test suite, in release mode (numeric tests are ~100× slower
# in debug builds); -enable-testing lets tests use @testable imports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-build
command -v swift >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
# With ATALP_BACKEND=onednn the test process runs OpenMP workers; spinning ones made TensorsTests +
# AutodiffTests ~100x slower on a loaded machine (29 s against 0.3 s). The CLI sets this itself
# (OpenMPWaitPolicy); a test process cannot, since libgomp reads it when it is loaded.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
swift build --build-tests -c release -Xswiftc -enable-testing
swift test --skip-build -c release -Xswiftc -enable-testing "$@"
