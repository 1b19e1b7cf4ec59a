import Foundation

/// Keeps freed large tensor buffers for reuse by the next tensor of the same size.
///
/// A training or attack step allocates the same activation shapes step after step; glibc's malloc
/// serves buffers above its mmap threshold (≥ 128 KiB to 32 MiB, adjusted as it goes) with fresh
/// `mmap`s, so each step pays page faults and zeroing by the kernel for every activation. Measured on
/// ResNet-20's training step (batch 128, 1 thread, this machine): 0.54 s of system time out of 3.1 s,
/// and 450–490 images/s against 530–570 with those pages kept (glibc's `MALLOC_MMAP_THRESHOLD_` and
/// `MALLOC_TRIM_THRESHOLD_` raised; three runs each). glibc cannot keep buffers of 32 MiB or more
/// (ResNet-18's first-group activations at batch 128), and tuning it would change every library's
/// allocations, so tensors keep their own: exact-size free lists of buffers ≥ `minimumBytes`, holding at
/// most `capacityBytes` (`ATALP_BUFFER_POOL_MB`, default 512; 0 turns the pool off).
final class BufferPool: @unchecked Sendable {
    /// The pool every tensor storage uses.
    static let shared = BufferPool(capacityBytes: {
        let mb = ProcessInfo.processInfo.environment["ATALP_BUFFER_POOL_MB"].flatMap { Int($0) } ?? 512
        return max(0, mb) << 20
    }())
    /// Smaller buffers come from malloc's own free lists cheaply.
    static let minimumBytes = 256 << 10

    let capacityBytes: Int
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var heldBytes = 0
    private let lock = NSLock()

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    /// A 64-byte-aligned buffer of `bytes` (a kept one when there is one of that size).
    func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes >= Self.minimumBytes && capacityBytes > 0 {
            lock.lock()
            if let pointer = free[bytes]?.popLast() {
                heldBytes -= bytes
                lock.unlock()
                return pointer
            }
            lock.unlock()
        }
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    /// Takes back a buffer from `allocate(bytes:)`: kept if there is room, else freed.
    func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= Self.minimumBytes && capacityBytes > 0 {
            lock.lock()
            if heldBytes + bytes <= capacityBytes {
                free[bytes, default: []].append(pointer)
                heldBytes += bytes
                lock.unlock()
                return
            }
            lock.unlock()
        }
        pointer.deallocate()
    }

    /// Bytes held for reuse now.
    var held: Int {
        lock.lock()
        defer { lock.unlock() }
        return heldBytes
    }
}
