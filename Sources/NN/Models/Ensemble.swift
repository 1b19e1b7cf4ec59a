import Autodiff
import Tensors

/// An ensemble of K classifiers seen as one model: the logits an attacker and an evaluator see are
/// the log of the members' mean softmax (Pang et al. 2019's ensemble prediction, made logits):
///
///     logits = log( (1/K)·Σ_k softmax(z_k) )      (so softmax(logits) is the mean prediction)
///
/// computed as `logMeanExp` of the members' log-softmax, which stays finite (and its gradient
/// defined) where every member's probability of a class underflows.
///
/// Member k's parameters and buffers are named `members.<k>.…` (`members.0.conv1.weight`), so a
/// checkpoint of the ensemble is one file. Group outputs are member 0's (for attention analyses;
/// `memberOutputs` gives every member's).
///
///     var rng = SeededRandom(seed: 0)
///     let adp = Ensemble(members: (0..<3).map { ResNet(.resnet20(), name: "members.\($0)", rng: &rng) })
public final class Ensemble: Classifier {
    public let members: [any Classifier]

    public init(members: [any Classifier]) {
        precondition(!members.isEmpty, "an ensemble needs members")
        self.members = members
    }

    /// K ResNets of one configuration, member k initialised from a stream derived from (seed, k).
    public convenience init(_ configuration: ResNetConfiguration, members count: Int, seed: UInt64) {
        self.init(members: (0..<count).map { k in
            var rng = SeededRandom.derived(seed: seed, stream: UInt64(k))
            return ResNet(configuration, name: "members.\(k)", rng: &rng)
        })
    }

    public var parameters: [Parameter] { members.flatMap(\.parameters) }
    public var buffers: [Buffer] { members.flatMap(\.buffers) }

    /// Each member's own forward pass (ADP's loss needs every member's logits).
    public func memberOutputs(_ x: Variable, mode: Mode) -> [ClassifierOutput] {
        members.map { $0(x, mode: mode) }
    }

    /// log of the mean of the members' softmax predictions, stably: logMeanExp_k(log softmax(z_k)).
    public static func combine(_ memberLogits: [Variable]) -> Variable {
        logMeanExp(memberLogits.map { logSoftmax($0) })
    }

    /// (1/K)·Σ_k softmax(z_k), N×D.
    public static func meanPrediction(_ memberLogits: [Variable]) -> Variable {
        var total = softmax(memberLogits[0])
        for z in memberLogits.dropFirst() { total = total + softmax(z) }
        return total * (1 / Float(memberLogits.count))
    }

    public func callAsFunction(_ x: Variable, mode: Mode) -> ClassifierOutput {
        let outs = memberOutputs(x, mode: mode)
        return ClassifierOutput(logits: Ensemble.combine(outs.map(\.logits)), groups: outs[0].groups)
    }
}
