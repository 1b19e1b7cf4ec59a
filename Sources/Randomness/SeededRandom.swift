import Foundation

/// A seeded random generator (xoshiro256**, seeded through SplitMix64), so that every random draw in
/// atalp — initialisation, shuffling, augmentation, random starts, noise — is reproducible from a
/// seed carried in the configuration. Same seed, same sequence, on every machine.
///
///     var rng = SeededRandom(seed: 42)
///     let x = Tensor.uniform(shape: [2, 3], in: -1...1, using: &rng)
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s = (seeder.next(), seeder.next(), seeder.next(), seeder.next())
    }

    /// An independent stream derived from this seed and a label, e.g. one per epoch or per worker.
    public static func derived(seed: UInt64, stream: UInt64) -> SeededRandom {
        SeededRandom(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03) &+ 0x632B_E59B_D9B4_E019)
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits (every Float in the grid is reachable).
    @inlinable
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Standard normal by Box–Muller (one value per call; simple and exactly reproducible).
    public mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0), Double.leastNonzeroMagnitude)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// ±1 with equal probability.
    public mutating func nextRademacher() -> Float { next() & 1 == 0 ? -1 : 1 }

    /// A uniformly random permutation of 0..<n (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(next() % UInt64(i + 1))
                p.swapAt(i, j)
            }
        }
        return p
    }
}
