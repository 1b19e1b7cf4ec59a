import XCTest
import Tensors

/// The channel-blocked layout (`nChw16c`) behind the plain view: conversion both ways, and every
/// accessor and elementwise op giving the values a plain tensor would.
final class TensorLayoutTests: XCTestCase {
    static func sample(_ shape: [Int] = [2, 32, 3, 5], seed: UInt64 = 1) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor.normal(shape: shape, using: &rng)
    }

    /// Element (n, c, h, w) of a blocked tensor lies at ((n·C/16 + c/16)·H·W + h·W + w)·16 + c%16.
    func testBlockedStorageOrderIsOneDNNs() {
        let x = Self.sample()
        let b = x.converted(to: .channelBlocked16)
        XCTAssertEqual(b.layout, .channelBlocked16)
        let (C, H, W) = (32, 3, 5)
        b.withUnsafeStorage { s, layout in
            XCTAssertEqual(layout, .channelBlocked16)
            for (n, c, h, w) in [(0, 0, 0, 0), (1, 17, 2, 4), (0, 31, 1, 3), (1, 15, 0, 2)] {
                let offset = ((n * C / 16 + c / 16) * H * W + h * W + w) * 16 + c % 16
                XCTAssertEqual(s[offset], x[n, c, h, w], "(\(n), \(c), \(h), \(w))")
            }
        }
    }

    func testRoundTripAndPlainViewsAreExact() {
        let x = Self.sample()
        let b = x.converted(to: .channelBlocked16)
        XCTAssertEqual(b.converted(to: .plain).layout, .plain)
        XCTAssertEqual(b.converted(to: .plain).scalars, x.scalars)
        XCTAssertEqual(b.scalars, x.scalars, "withUnsafeBufferPointer sees row-major elements")
        XCTAssertEqual(b, x)
        XCTAssertEqual(b[1, 20, 2, 3], x[1, 20, 2, 3])
        XCTAssertEqual(b.reshaped([2, 32 * 15]).scalars, x.scalars, "reshape reads row-major order")
        XCTAssertEqual(b.reshaped([2, 32 * 15]).layout, .plain)
        XCTAssertFalse(TensorLayout.channelBlocked16.admits([2, 24, 3, 3]), "C must be a multiple of 16")
        XCTAssertFalse(TensorLayout.channelBlocked16.admits([2, 32, 3]), "rank 4 only")
    }

    func testWritingABlockedTensorMakesItPlain() {
        let x = Self.sample()
        var b = x.converted(to: .channelBlocked16)
        b[0, 3, 1, 1] = 42
        XCTAssertEqual(b.layout, .plain)
        var expected = x
        expected[0, 3, 1, 1] = 42
        XCTAssertEqual(b.scalars, expected.scalars)
    }

    /// Writing in storage order drops the kept row-major copy, so the plain view follows the write.
    func testWritingInStorageOrderRefreshesThePlainView() {
        var b = Self.sample().converted(to: .channelBlocked16)
        _ = b.scalars  // makes and keeps the row-major copy
        b.withUnsafeMutableStorage { s, _ in s[16] = 7 }  // (n 0, block 0, h 0, w 1, channel 0)
        XCTAssertEqual(b[0, 0, 0, 1], 7)
        XCTAssertEqual(b.layout, .channelBlocked16)
    }

    func testElementwiseOpsKeepTheLayoutAndTheValues() {
        let x = Self.sample(seed: 1), y = Self.sample(seed: 2)
        let bx = x.converted(to: .channelBlocked16), by = y.converted(to: .channelBlocked16)
        let cases: [(String, Tensor, Tensor)] = [
            ("map", bx * 3, x * 3),
            ("zipMap, both blocked", bx - by, x - y),
            ("zipMap, other plain", bx * y, x * y),
            ("zipMap, self plain", x + by, x + y),
            ("add+ReLU", bx.addingReLU(by), x.addingReLU(y)),
            ("add+ReLU, mixed", bx.addingReLU(y), x.addingReLU(y)),
            ("ReLU mask", y.maskedWhereNotPositive(bx), y.maskedWhereNotPositive(x)),
            ("clamp", bx.clamped(to: -0.5...0.5), x.clamped(to: -0.5...0.5)),
        ]
        for (what, got, want) in cases {
            XCTAssertEqual(got.scalars, want.scalars, what)
        }
        XCTAssertEqual((bx * 3).layout, .channelBlocked16)
        XCTAssertEqual(y.maskedWhereNotPositive(bx).layout, .channelBlocked16, "the mask's layout (the activation's)")
        var accumulated = bx
        accumulated += y
        accumulated.addScaled(by, 0.5)
        XCTAssertEqual(accumulated.layout, .channelBlocked16)
        XCTAssertEqual(accumulated.scalars, (x + y + y * 0.5).scalars.indices.map { i in
            let (a, b, c) = (x.scalars[i], y.scalars[i], y.scalars[i]); return (a + b) + 0.5 * c
        })
    }

    /// Copy on write holds for blocked tensors too: writing one copy leaves the other alone.
    func testCopiesOfABlockedTensorAreIndependent() {
        let b = Self.sample().converted(to: .channelBlocked16)
        var c = b
        c += b
        XCTAssertEqual(c.scalars, (b.converted(to: .plain) * 2).scalars)
        XCTAssertEqual(b.scalars, Self.sample().scalars)
    }
}
