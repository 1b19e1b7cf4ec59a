#!/usr/bin/env bash
# Sets everything up and runs the whole test suite, in release mode (numeric tests are ~100× slower
# in debug builds); -enable-testing lets tests use @testable imports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-build
command -v swift >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
# The tests run on OpenMP workers (oneDNN, the default backend): let idle ones spin briefly, then sleep,
# as the CLI does (OpenMPWaitPolicy); a test process cannot set this itself, libgomp reads it when loaded.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-10000}"
swift build --build-tests -c release -Xswiftc -enable-testing
swift test --skip-build -c release -Xswiftc -enable-testing "$@"
# The backend is chosen once per process: run the gradient checks and the backend tests again on the
# reference backend (im2col + OpenBLAS), which the oneDNN tests compare against; and the batch-norm
# fold on oneDNN's direct kernels, whose input gradients are exact enough for its tight bound.
if [ $# -eq 0 ]; then
  ATALP_BACKEND=reference swift test --skip-build -c release -Xswiftc -enable-testing --filter 'AutodiffTests|TensorsTests|FoldedBatchNormTests'
  ATALP_WINOGRAD=0 swift test --skip-build -c release -Xswiftc -enable-testing --filter 'FoldedBatchNormTests'
fi
