import XCTest
import Foundation
import Autodiff
import NN
import Robustness
import Tensors

/// The Table 1 baselines (IGR, RAT, Randomization, FD, ADP): one test of each mechanism, plus
/// construction, checkpoints, configuration encoding and one training step of each.
final class DefenseBaselineTests: XCTestCase {
    static let tiny = ResNetConfiguration(family: .smallImage, block: .basic, blocksPerGroup: [1, 1], widths: [8, 16],
                                          inputChannels: 1, classes: 10)

    // MARK: IGR

    /// The finite-difference penalty against the exact mean ‖∇ₓ CEᵢ‖² from the tape (evaluation mode,
    /// so examples are independent): the O(h) error stays within a few per cent at h = 0.01.
    func testIGRFiniteDifferencePenaltyMatchesExactGradientNorm() throws {
        let (_, test) = try Fixtures.fashionMNIST(train: 1, test: 16)
        let model = Fixtures.tinyResNet(seed: 11)
        let exact = inputGradientSquaredNorms(model, images: test.images, labels: test.labels)
        let exactMean = exact.reduce(0, +) / Float(exact.count)
        let (_, _, penalty) = finiteDifferenceGradientPenalty(model: model, images: test.images, labels: test.labels, step: 0.01,
                                                           mode: .evaluation, tape: Tape())
        XCTAssertGreaterThan(exactMean, 0)
        XCTAssertEqual(penalty.value.scalar, exactMean, accuracy: 0.05 * exactMean, "finite difference vs exact")
    }

    /// Same data, seed and schedule; IGR's penalty must leave a visibly smaller input gradient
    /// (measured at the time of writing: mean ‖∇ₓ CE‖² 0.0035 with IGR, λ = 10, against 0.029 without).
    func testIGRLowersTheInputGradientNorm() throws {
        let (train, test) = try Fixtures.fashionMNIST(train: 1024, test: 128)
        let plain = Fixtures.tinyResNet(seed: 12), igr = Fixtures.tinyResNet(seed: 12)
        Fixtures.train(plain, on: train, defense: .none, epochs: 2)
        Fixtures.train(igr, on: train, defense: .igr(InputGradientRegularization(weight: 10)), epochs: 2)
        func meanNorm(_ m: ResNet) -> Float {
            let n = inputGradientSquaredNorms(m, images: test.images, labels: test.labels)
            return n.reduce(0, +) / Float(n.count)
        }
        let plainNorm = meanNorm(plain), igrNorm = meanNorm(igr)
        XCTAssertLessThan(igrNorm, 0.5 * plainNorm, "mean ‖∇ₓ CE‖²: IGR \(igrNorm) vs plain \(plainNorm)")
        // 32 steps of a tiny network: both reach about 0.28; IGR must still learn above chance (0.1).
        XCTAssertGreaterThan(evaluateAccuracy(igr, on: test), 0.2, "IGR must still learn")
    }

    // MARK: Randomised layers (RAT, Randomization)

    func testRandomizedLayersAreReproducibleBySeedAndDifferAcrossSeeds() {
        var rng = SeededRandom(seed: 13)
        let x = Tensor.uniform(shape: [4, 1, 28, 28], using: &rng)
        for kind in [Defense.Kind.rat, .randomization] {
            let model = Defense.defaults(kind).makeModel(architecture: Self.tiny, seed: 1)
            guard let randomized = model as? any RandomizedClassifier else { return XCTFail("\(kind) is not randomised") }
            func logits(_ seed: UInt64) -> Tensor {
                randomized.reseed(seed)
                return logitsOf(model, x)
            }
            XCTAssertEqual(logits(5), logits(5), "\(kind): same seed, same output")
            XCTAssertNotEqual(logits(5), logits(6), "\(kind): different seeds, different outputs")
        }
    }

    /// RAT's noise has the documented scale: std σ (gaussian), √2·b (laplace), s/√3 (uniform on ±s).
    func testNoiseDistributionsHaveTheirScales() {
        var rng = SeededRandom(seed: 19)
        for (distribution, std) in [(NoiseDistribution.gaussian, Float(0.2)), (.laplace, Float(0.2 * 2.0.squareRoot())),
                                    (.uniform, Float(0.2 / 3.0.squareRoot()))] {
            let layer = NoiseInjection(base: ResNet(Self.tiny, rng: &rng), distribution: distribution, scale: 0.2, seed: 1)
            let noise = layer.drawNoise(shape: [100_000])
            let mean = noise.mean(), sd = (noise.map { $0 * $0 }.mean() - mean * mean).squareRoot()
            XCTAssertEqual(mean, 0, accuracy: 0.005, "\(distribution)")
            XCTAssertEqual(sd, std, accuracy: 0.02 * std, "\(distribution)")
        }
    }

    func testRandomizationResizesAndPadsToTheScaledSizes() {
        var rng = SeededRandom(seed: 14)
        let base = ResNet(Self.tiny, rng: &rng)
        let layer = RandomResizePadding(base: base, seed: 0)
        XCTAssertEqual(layer.paddedSide(for: 299), 331)
        XCTAssertEqual(layer.paddedSide(for: 28), 31)
        let tape = Tape()
        withExtendedLifetime(tape) {
            let x = tape.constant(Tensor.uniform(shape: [1, 1, 28, 28], using: &rng))
            XCTAssertEqual(RandomResizePadding.transform(x, resizedTo: 30, paddedTo: 31, top: 1, left: 0).shape, [1, 1, 31, 31])
            // Training mode passes through: the base network is trained as usual (Xie et al.).
            XCTAssertEqual(layer(x, mode: .training).logits.value, base(x, mode: .training).logits.value)
        }
    }

    /// EOT with a deterministic model is plain PGD; the count survives encoding only when it is not 1.
    func testEOTGradientSamplesKeepDeterministicPGDAndEncodeOnlyWhenUsed() throws {
        var rng = SeededRandom(seed: 15)
        let model = Fixtures.tinyResNet(seed: 15)
        let x = Tensor.uniform(shape: [4, 1, 28, 28], using: &rng)
        var plain = PGDConfiguration(epsilon: 0.1, stepSize: 0.02, iterations: 3)
        var eot = plain
        eot.gradientSamples = 3
        var r1 = SeededRandom(seed: 1), r2 = SeededRandom(seed: 1)
        let a = PGD.perturb(model, images: x, labels: [0, 1, 2, 3], configuration: plain, rng: &r1)
        let b = PGD.perturb(model, images: x, labels: [0, 1, 2, 3], configuration: eot, rng: &r2)
        XCTAssertEqual(a, b)
        let encoded = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        XCTAssertFalse(encoded.contains("gradientSamples"))
        XCTAssertEqual(try JSONDecoder().decode(PGDConfiguration.self, from: Data(encoded.utf8)).gradientSamples, 1)
        let eotJSON = try JSONEncoder().encode(eot)
        XCTAssertEqual(try JSONDecoder().decode(PGDConfiguration.self, from: eotJSON), eot)
        plain.gradientSamples = 1
        XCTAssertEqual(Defense.defaults(.rat).evaluationAttack(plain).gradientSamples, RandomizedInference.Defaults.eotSamples)
        XCTAssertEqual(Defense.defaults(.pat).evaluationAttack(plain).gradientSamples, 1)
    }

    /// On a randomised model, EOT's averaged gradient takes another path than a single draw's, and the
    /// attack is reproducible once the model is reseeded.
    func testEOTAveragesOverDrawsOfARandomizedModel() {
        let model = Defense.rat(RandomizedAdversarialTraining(noiseScale: 0.3)).makeModel(architecture: Self.tiny, seed: 6)
        guard let randomized = model as? any RandomizedClassifier else { return XCTFail("RAT is not randomised") }
        var rng = SeededRandom(seed: 18)
        let x = Tensor.uniform(shape: [4, 1, 28, 28], using: &rng)
        func attack(samples: Int) -> Tensor {
            randomized.reseed(1)
            var r = SeededRandom(seed: 1)
            let c = PGDConfiguration(epsilon: 0.1, stepSize: 0.02, iterations: 2, randomStart: false, gradientSamples: samples)
            return PGD.perturb(model, images: x, labels: [0, 1, 2, 3], configuration: c, rng: &r)
        }
        XCTAssertEqual(attack(samples: 4), attack(samples: 4))
        XCTAssertNotEqual(attack(samples: 1), attack(samples: 4))
    }

    func testRandomizedAccuracyIsTheMeanOverDraws() throws {
        let (_, test) = try Fixtures.fashionMNIST(train: 1, test: 64)
        let model = Defense.rat(RandomizedAdversarialTraining(noiseScale: 0.5)).makeModel(architecture: Self.tiny, seed: 2)
        let a = evaluateRandomizedAccuracy(model, on: test, draws: 4, seed: 3)
        XCTAssertEqual(a.perDraw.count, 4)
        XCTAssertEqual(a.mean, a.perDraw.reduce(0, +) / 4, accuracy: 1e-6)
        XCTAssertEqual(a, evaluateRandomizedAccuracy(model, on: test, draws: 4, seed: 3), "same seed, same draws")
        let attacked = evaluateRandomizedPGD(model, data: test.slice(0..<16),
                                             attack: PGDConfiguration(epsilon: 0.1, stepSize: 0.05, iterations: 2, gradientSamples: 2),
                                             draws: 2, seed: 4)
        XCTAssertEqual(attacked.adversarial.perDraw.count, 2)
        XCTAssertEqual(attacked.images.shape, [16, 1, 28, 28])
    }

    // MARK: FD

    /// Denoising blocks start as the identity (zero-initialised γ), take the PyTorch-style names, and the
    /// rest of the network is the plain ResNet of the same seed.
    func testFDModelStartsAsThePlainResNetWithNamedDenoisingBlocks() {
        let fd = Defense.defaults(.fd).makeModel(architecture: Self.tiny, seed: 4)
        let plain = Defense.defaults(.pat).makeModel(architecture: Self.tiny, seed: 4)
        let names = Set(fd.parameters.map(\.name))
        XCTAssertTrue(names.isSuperset(of: ["denoise1.theta.weight", "denoise2.phi.weight", "denoise2.conv.weight", "denoise1.bn.weight"]))
        XCTAssertEqual(fd.parameters.count, plain.parameters.count + 2 * 5)
        XCTAssertFalse(plain.parameters.contains { $0.name.hasPrefix("denoise") })
        var rng = SeededRandom(seed: 5)
        let x = Tensor.uniform(shape: [2, 1, 28, 28], using: &rng)
        XCTAssertEqual(logitsOf(fd, x), logitsOf(plain, x))
        let only = Defense.fd(FeatureDenoisingTraining(denoisingGroups: [1])).makeModel(architecture: Self.tiny, seed: 4)
        XCTAssertFalse(only.parameters.contains { $0.name.hasPrefix("denoise1") })
    }

    // MARK: ADP

    /// K = 2, D = 3, label 0, p₁ = (0.5, 0.3, 0.2), p₂ = (0.6, 0.1, 0.3):
    ///   p̄ = (0.55, 0.2, 0.25), H = −Σ p̄ log p̄ = 0.55·0.597837 + 0.2·1.609438 + 0.25·1.386294 = 0.997272;
    ///   non-maximal m₁ = (0.3, 0.2)/√0.13, m₂ = (0.1, 0.3)/√0.1, cos = 0.09/√0.013 = 0.789352,
    ///   det(M̃ᵀM̃ + δI) = (1 + δ)² − 0.789352² = 0.376925 (δ = 10⁻⁶), log det = −0.975704.
    /// With α = 2, β = 0.5 the regulariser subtracted from Σ CE is 2·0.997272 + 0.5·(−0.975704) = 1.506692.
    func testADPRegularizerMatchesTheHandComputedCase() {
        let tape = Tape()
        let z1 = tape.constant(Tensor(shape: [1, 3], values: [0.5, 0.3, 0.2].map { Float(Foundation.log($0)) }))
        let z2 = tape.constant(Tensor(shape: [1, 3], values: [0.6, 0.1, 0.3].map { Float(Foundation.log($0)) }))
        let (h, ld) = adpRegularizerTerms(memberLogits: [z1, z2], labels: [0], determinantOffset: 1e-6)
        XCTAssertEqual(h.value.scalar, 0.997272, accuracy: 1e-5)
        XCTAssertEqual(ld.value.scalar, -0.975704, accuracy: 1e-4)
        XCTAssertEqual(2 * h.value.scalar + 0.5 * ld.value.scalar, 1.506692, accuracy: 1e-4)
        // the ensemble's logits are log of the mean prediction
        XCTAssertEqual(Ensemble.combine([z1, z2]).value.map { expf($0) }.scalars, [0.55, 0.2, 0.25].map { Float($0) }, accuracy: 1e-6)
    }

    /// Members so sure of a wrong class that softmax underflows for the true one: the ensemble's logits
    /// and the attack's gradient stay finite.
    func testEnsembleLogitsStayFiniteWhenEveryMemberIsCertain() {
        let tape = Tape()
        let z = (0..<2).map { _ in tape.input(Tensor(shape: [1, 3], values: [200, 0, -200]), requiresGradient: true) }
        let logits = Ensemble.combine(z)
        XCTAssertTrue(logits.value.scalars.allSatisfy(\.isFinite), "\(logits.value)")
        tape.backward(from: softmaxCrossEntropy(logits, labels: [2]))
        XCTAssertTrue(z.allSatisfy { $0.gradient!.scalars.allSatisfy(\.isFinite) })
    }

    func testADPRegularizerGradientFlowsToEveryMember() {
        var rng = SeededRandom(seed: 16)
        let tape = Tape()
        let zs = (0..<3).map { _ in tape.input(Tensor.uniform(shape: [4, 5], in: -2...2, using: &rng), requiresGradient: true) }
        let (h, ld) = adpRegularizerTerms(memberLogits: zs, labels: [0, 1, 2, 3], determinantOffset: 1e-6)
        tape.backward(from: h + ld)
        for z in zs { XCTAssertGreaterThan(z.gradient!.map { abs($0) }.sum(), 0) }
    }

    // MARK: Construction, checkpoints, training

    func testCheckpointsRoundTripEveryBaselineModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atalp-defense-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededRandom(seed: 17)
        let x = Tensor.uniform(shape: [2, 1, 28, 28], using: &rng)
        for kind in [Defense.Kind.igr, .rat, .randomization, .fd, .adp] {
            let defense = kind == .adp ? .adp(AdaptiveDiversityPromoting(ensembleSize: 2)) : Defense.defaults(kind)
            let saved = defense.makeModel(architecture: Self.tiny, seed: 1), loaded = defense.makeModel(architecture: Self.tiny, seed: 2)
            for p in saved.parameters { p.value = p.value.map { $0 + 0.01 } }   // FD's zero γ too
            let path = dir.appendingPathComponent("\(kind).h5").path
            try Checkpoint.save(saved, to: path)
            try Checkpoint.load(into: loaded, from: path)
            for r in [saved, loaded] { (r as? any RandomizedClassifier)?.reseed(9) }
            XCTAssertEqual(logitsOf(saved, x), logitsOf(loaded, x),
                           "\(kind)")
            XCTAssertEqual(Set(saved.parameters.map(\.name)).count, saved.parameters.count, "\(kind): unique names")
            if kind == .adp { XCTAssertTrue(saved.parameters.contains { $0.name == "members.1.conv1.weight" }) }
        }
    }

    /// Every baseline trains: one short epoch gives a finite loss and moves the weights.
    func testEveryBaselineTrainsAStep() throws {
        let (train, _) = try Fixtures.fashionMNIST(train: 32, test: 1)
        let attack = PGDConfiguration(epsilon: 0.1, stepSize: 0.05, iterations: 2)
        for kind in [Defense.Kind.igr, .rat, .randomization, .fd, .adp] {
            let defense = kind == .fd ? .fd(FeatureDenoisingTraining(training: .pat(attack: attack), denoisingGroups: [1]))
                : Defense.defaults(kind, attack: attack)
            let model = defense.makeModel(architecture: Self.tiny, seed: 3)
            let before = model.parameters.map(\.value)
            var last = LossTerms()
            let trainer = Trainer(model: model, configuration: TrainingConfiguration(epochs: 1, batchSize: 16, learningRate: 0.05),
                                  defense: defense)
            trainer.run(on: train, onStep: { last = $0.terms })
            XCTAssertTrue(last.total.isFinite, "\(kind): loss \(last.total)")
            XCTAssertTrue(zip(before, model.parameters.map(\.value)).contains { $0 != $1 }, "\(kind): weights unchanged")
            switch kind {
            case .igr: XCTAssertGreaterThan(last.gradientPenalty, 0)
            case .adp: XCTAssertGreaterThan(last.ensembleEntropy, 0); XCTAssertLessThan(last.logDeterminant, 0)
            default: break
            }
        }
    }
}

/// Evaluation-mode logits (the tape must outlive the forward pass: variables hold it weakly).
private func logitsOf(_ model: any Classifier, _ x: Tensor) -> Tensor {
    let tape = Tape()
    return withExtendedLifetime(tape) { model(tape.constant(x), mode: .evaluation).logits.value }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
