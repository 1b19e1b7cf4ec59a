import Foundation
import XCTest
@testable import Pipeline
import Store

/// A tiny pipeline: 96 Fashion-MNIST training images, 16 test images, 8-wide ResNet-8s, a few steps.
let tinyPipeline = """
    name: tiny
    data:
      source: fashion-mnist
      train_examples: 96
      test_examples: 16
    training:
      epochs: 1
      batch_size: 16
      learning_rate: 0.05
      validation_examples: 16
    defense:
      attack: {epsilon: 0.1, step_size: 0.05, iterations: 2}
    models:
      - name: plain
        architecture: resnet8
        widths: [4, 4, 8]
        defense: {kind: none}
      - name: atalp
        label: AT+ALP
        architecture: resnet8
        widths: [4, 4, 8]
        defense: {kind: atalp, alpha: 0.5, beta: 1.0}
    sources:
      - name: deeper
        architecture: resnet14
        widths: [4, 4, 8]
        defense: {kind: none}
        seed: 7
    attacks:
      - name: pgd
        threat_models: [white-box, gray-box, black-box]
        black_box_source: deeper
        epsilons: [0.1]
        iterations: [1, 2]
        step_size: 0.05
      - name: fgsm
        threat_models: [white-box]
        epsilons: [0.2]
        iterations: [1]
        step_size: 0.2
        random_start: false
    evaluation:
      batch_size: 16

    """

final class TemporaryDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "atalp-pipeline-test-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String) -> String {
        let file = "\(path)/\(name)"
        try? text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}

func fashionMNISTAvailable() -> Bool {
    FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist")
}

/// Runs the atalp binary built beside the test bundle: its standard output, or on failure
/// `exit N: ` and its standard error (skips where there is no binary).
func runAtalp(_ arguments: [String]) throws -> String {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("atalp").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("no atalp binary beside the tests") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile(), errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return "exit \(process.terminationStatus): " + String(decoding: errors, as: UTF8.self) }
    return String(decoding: output, as: UTF8.self)
}
