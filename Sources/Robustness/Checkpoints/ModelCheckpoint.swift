import Foundation
import NN
import Store

/// The one checkpoint format of atalp: a trained model with what rebuilds it, written by `write` for
/// `atalp train` and the pipeline's train stage alike, and read by `load` for `atalp evaluate`,
/// `atalp analyze` and the stages.
///
/// Layout (h5py reads it without atalp): the tensors of `Checkpoint` (PyTorch names and shapes,
/// optional `optimizer/…`), and root attributes
///
/// | attribute | meaning |
/// |---|---|
/// | `kind` | `checkpoint` |
/// | `format_version` | 2 (this layout); 1: the earlier ones, still read (`ModelCheckpoint+Legacy.swift`) |
/// | `architecture` | `ResNetConfiguration` as JSON |
/// | `defense` | the defense's settings as canonical JSON with the pipeline file's keys (`Defense.parameters`) |
///
/// plus whatever the writer adds (`epoch`, `steps`, `test_accuracy`, …).
public struct ModelCheckpoint {
    public static let formatVersion = 2

    /// The network, built for the defense and filled with the stored weights.
    public var model: any Classifier
    public var defense: Defense
    public var architecture: ResNetConfiguration
    /// Every root attribute of the file.
    public var attributes: [String: HDF5Attribute]

    /// Writes the tensors and the `architecture` and `defense` attributes (not `kind` and
    /// `format_version`, which a store artifact's metadata sets; `save` sets them for a file).
    public static func write(_ model: any Classifier, optimizer: (any Optimizer)?, architecture: ResNetConfiguration, defense: Defense,
                             into w: any HDF5Writing) throws {
        try Checkpoint.write(model, optimizer: optimizer, into: w)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try w.setRootAttribute("architecture", .string(String(decoding: try encoder.encode(architecture), as: UTF8.self)))
        try w.setRootAttribute("defense", .string(defense.parameters.canonicalJSON))
    }

    /// Writes a checkpoint file atomically (temporary name, then rename).
    public static func save(_ model: any Classifier, optimizer: (any Optimizer)? = nil, architecture: ResNetConfiguration, defense: Defense,
                            attributes: [String: HDF5Attribute] = [:], to path: String) throws {
        try HDF5File.write(to: path) { w in
            try write(model, optimizer: optimizer, architecture: architecture, defense: defense, into: w)
            try w.setAttribute("kind", .string("checkpoint"))
            try w.setAttribute("format_version", .int(Int64(formatVersion)))
            for (k, v) in attributes.sorted(by: { $0.key < $1.key }) { try w.setAttribute(k, v) }
        }
    }

    /// Reads any checkpoint atalp has written: the model its defense needs (a ResNet, with denoising
    /// blocks, an ensemble, or a randomised wrapper) with the stored weights. A defense that cannot be
    /// read is an error naming the file, never a silent "no defense".
    public static func load(_ path: String) throws -> ModelCheckpoint {
        let attributes = try Checkpoint.attributes(of: path)
        guard attributes["kind"]?.stringValue == "checkpoint" else {
            throw SettingsError(source: path, key: "", "not an atalp checkpoint (its attribute 'kind' is not \"checkpoint\")")
        }
        guard let json = attributes["architecture"]?.stringValue,
              let architecture = try? JSONDecoder().decode(ResNetConfiguration.self, from: Data(json.utf8)) else {
            throw SettingsError(source: path, key: "architecture", "missing or unreadable: cannot tell which network to build")
        }
        let version = attributes["format_version"]?.intValue ?? 1
        let defense: Defense
        switch version {
        case 1: defense = try legacyDefense(attributes, path: path)
        case 2:
            guard let text = attributes["defense"]?.stringValue else {
                throw SettingsError(source: path, key: "defense", "missing: cannot tell which defense the weights belong to")
            }
            defense = try Defense(from: try ParameterFields(json: text, source: "\(path): attribute defense"))
        default:
            throw SettingsError(source: path, key: "format_version", "checkpoint format \(version) is newer than this atalp reads (\(formatVersion))")
        }
        let model = defense.makeModel(architecture: architecture, seed: 0)
        try Checkpoint.load(into: model, from: path)
        return ModelCheckpoint(model: model, defense: defense, architecture: architecture, attributes: attributes)
    }

    /// A PyTorch state dict (`StateDict`: safetensors or HDF5 with PyTorch's names) as the model of
    /// `defense` on `architecture`, which the file cannot say itself.
    public static func load(stateDict path: String, architecture: ResNetConfiguration, defense: Defense) throws -> ModelCheckpoint {
        let model = defense.makeModel(architecture: architecture, seed: 0)
        try StateDict.load(try StateDict.read(path), into: model, file: path)
        return ModelCheckpoint(model: model, defense: defense, architecture: architecture, attributes: [:])
    }

    /// Whether `path` is a checkpoint atalp wrote (an HDF5 file whose attribute `kind` is "checkpoint").
    public static func isCheckpoint(_ path: String) -> Bool {
        (try? Checkpoint.attributes(of: path))?["kind"]?.stringValue == "checkpoint"
    }
}
