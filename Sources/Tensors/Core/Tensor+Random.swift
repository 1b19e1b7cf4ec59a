import Randomness

extension Tensor {
    public static func uniform(shape: [Int], in range: ClosedRange<Float> = 0...1, using rng: inout SeededRandom) -> Tensor {
        let lo = range.lowerBound, width = range.upperBound - range.lowerBound
        return Tensor(shape: shape) { out in
            for i in 0..<out.count { out[i] = lo + width * rng.nextUnitFloat() }
        }
    }

    public static func normal(shape: [Int], mean: Float = 0, std: Float = 1, using rng: inout SeededRandom) -> Tensor {
        Tensor(shape: shape) { out in
            for i in 0..<out.count { out[i] = mean + std * rng.nextNormal() }
        }
    }

    public static func rademacher(shape: [Int], using rng: inout SeededRandom) -> Tensor {
        Tensor(shape: shape) { out in
            for i in 0..<out.count { out[i] = rng.nextRademacher() }
        }
    }
}
