/// SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators"): the one
/// small seeded generator of atalp. It seeds `SeededRandom`'s xoshiro256** state, shuffles the
/// train/test split of folder layouts (Data) and makes the store benchmark's data (Store) — modules
/// that do not depend on each other, hence this target of its own.
///
///     var rng = SplitMix64(seed: 7)
///     let a = rng.next(), b = rng.next()
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
