/// An accuracy over several training seeds: mean, sample standard deviation and range.
public struct SeedSpread: Codable, Hashable, Sendable {
    public var mean: Double
    /// Sample standard deviation (n − 1 in the denominator); 0 for one seed.
    public var standardDeviation: Double
    public var minimum: Double
    public var maximum: Double
    public var seeds: Int

    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "SeedSpread needs at least one value")
        seeds = values.count
        mean = values.reduce(0, +) / Double(values.count)
        let m = mean
        standardDeviation = values.count < 2 ? 0 : (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        minimum = values.min()!
        maximum = values.max()!
    }
}
