import Autodiff

/// What a classifier's forward pass returns: the logits and the output of each group
/// (conv2_x … conv5_x, the paper's group-0 … group-3), which attention losses and analyses read.
public struct ClassifierOutput {
    public let logits: Variable
    public let groups: [Variable]

    public init(logits: Variable, groups: [Variable]) {
        self.logits = logits
        self.groups = groups
    }
}

/// A model that attacks, defenses and evaluation can use: images in [0, 1] in, logits and group
/// outputs out. ResNets are classifiers; ensembles and randomised wrappers can be too.
public protocol Classifier: Module {
    func callAsFunction(_ x: Variable, mode: Mode) -> ClassifierOutput
}
