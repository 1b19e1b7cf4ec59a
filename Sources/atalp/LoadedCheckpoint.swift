import ArgumentParser
import Foundation
import NN
import Robustness
import Store

/// A checkpoint file as a ready model: its architecture and its defense rebuilt from the file's
/// attributes, whoever wrote it.
enum LoadedCheckpoint {
    typealias Loaded = (model: any Classifier, defense: DefenseConfiguration, architecture: ResNetConfiguration)

    /// Loads a checkpoint written by `atalp train --output` (attributes `defense`: the kind's name,
    /// `defense_configuration`: JSON) or by a pipeline's train stage (`defense`: JSON).
    /// Throws, naming the file, when the defense is named but cannot be read: evaluating a RAT or
    /// Randomization checkpoint without its randomisation would give wrong numbers silently.
    static func load(_ path: String) throws -> Loaded {
        let attributes = try Checkpoint.attributes(of: path)
        let decoder = JSONDecoder()
        guard let json = attributes["architecture"]?.stringValue,
              let architecture = try? decoder.decode(ResNetConfiguration.self, from: Data(json.utf8)) else {
            throw ValidationError("\(path): no readable 'architecture' attribute (not a checkpoint written by atalp?)")
        }
        let defense = try self.defense(attributes["defense_configuration"]?.stringValue, attributes["defense"]?.stringValue, path: path)
        let model = defense.makeModel(architecture: architecture, seed: 0)
        try Checkpoint.load(into: model, from: path)
        return (model, defense, architecture)
    }

    static func defense(_ configuration: String?, _ defense: String?, path: String) throws -> DefenseConfiguration {
        let decoder = JSONDecoder()
        if let configuration {
            do { return try decoder.decode(DefenseConfiguration.self, from: Data(configuration.utf8)) } catch {
                throw ValidationError("\(path): unreadable 'defense_configuration' attribute: \(error)")
            }
        }
        guard let defense, defense != DefenseConfiguration.Kind.none.rawValue else { return DefenseConfiguration(kind: .none) }
        if let decoded = try? decoder.decode(DefenseConfiguration.self, from: Data(defense.utf8)) { return decoded }
        throw ValidationError("\(path): the checkpoint names defense '\(defense)' but carries no readable configuration of it; "
                              + "refusing to evaluate it as an undefended model")
    }
}
