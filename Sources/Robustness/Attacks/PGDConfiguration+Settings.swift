import Store

extension PGDConfiguration {
    /// The defaults of a PGD attack named in a pipeline file, on the command line or in code.
    public enum Defaults {
        /// L∞ radius in [0, 1] pixel units (Fashion-MNIST-sized: the paper's 0.25 and 0.5 are for its data sets).
        public static let epsilon: Float = 0.1
        public static let iterations = 10
        public static let randomStart = true
        public static let restarts = 1
    }

    /// The one step-size rule, wherever no step size is given: 2.5·ε / iterations, so that the
    /// iterations together can cross the ε-ball 2.5 times — from a random start, far enough to reach
    /// any corner (Madry et al. 2018's step sizes lie near it; the rule is the `robustness` library's,
    /// Engstrom et al. 2019). It gives ε/4 at 10 iterations and ε/8 at 20. One iteration (FGSM) steps ε.
    public static func defaultStepSize(epsilon: Float, iterations: Int) -> Float {
        iterations <= 1 ? epsilon : Float(2.5 * Double(epsilon) / Double(iterations))
    }

    /// A PGD attack with the step-size rule applied when `stepSize` is nil.
    public init(epsilon: Float, stepSize: Float?, iterations: Int, randomStart: Bool = Defaults.randomStart, restarts: Int = Defaults.restarts) {
        self.init(epsilon: epsilon, stepSize: stepSize ?? Self.defaultStepSize(epsilon: epsilon, iterations: iterations),
                  iterations: iterations, randomStart: randomStart, restarts: restarts)
    }

    /// Decodes `{epsilon, step_size, iterations, random_start, restarts}` (each optional, defaults above;
    /// `gradient_samples` and `targeted` as `parameters` writes them), validating each value.
    public init(from f: any SettingsReader) throws {
        let epsilon = try f.double("epsilon", where: { $0 >= 0 }, "must be ≥ 0").map(Float.init) ?? Defaults.epsilon
        let iterations = try f.int("iterations", where: { $0 >= 0 }, "must be ≥ 0") ?? Defaults.iterations
        let step = try f.double("step_size", where: { $0 >= 0 }, "must be ≥ 0").map(Float.init)
        self.init(epsilon: epsilon, stepSize: step, iterations: iterations, randomStart: try f.bool("random_start") ?? Defaults.randomStart,
                  restarts: try f.int("restarts", where: { $0 >= 1 }, "must be at least 1") ?? Defaults.restarts)
        targeted = try f.bool("targeted") ?? false
        gradientSamples = try f.int("gradient_samples", where: { $0 >= 1 }, "must be at least 1") ?? 1
        try f.finish()
    }

    /// The encoding of cache keys and checkpoints. `gradient_samples` and `targeted` only when not
    /// their defaults, so that keys made before they existed stay the same.
    public var parameters: ParameterValue {
        var p: [String: ParameterValue] = [
            "epsilon": .double(Double(epsilon)), "step_size": .double(Double(stepSize)), "iterations": .int(Int64(iterations)),
            "random_start": .bool(randomStart), "restarts": .int(Int64(restarts)),
        ]
        if gradientSamples != 1 { p["gradient_samples"] = .int(Int64(gradientSamples)) }
        if targeted { p["targeted"] = .bool(true) }
        return .object(p)
    }
}
