import Foundation

/// The learning rate as a function of the optimiser step: a linear warm-up from 0 over
/// `warmupSteps`, then either constant, step decay (×`gamma` at each milestone) or cosine decay
/// to `minimum` at `totalSteps`.
///
///     let s = LearningRateSchedule(base: 0.1, totalSteps: 1000, warmupSteps: 50, decay: .cosine(minimum: 0))
///     s.rate(at: 0)     // 0.002 (first warm-up step)
///     s.rate(at: 1000)  // 0
public struct LearningRateSchedule: Codable, Hashable, Sendable {
    public enum Decay: Codable, Hashable, Sendable {
        case constant
        case step(milestones: [Int], gamma: Float)
        case cosine(minimum: Float)
    }

    public var base: Float
    public var totalSteps: Int
    public var warmupSteps: Int
    public var decay: Decay

    public init(base: Float, totalSteps: Int, warmupSteps: Int = 0, decay: Decay = .constant) {
        self.base = base; self.totalSteps = totalSteps; self.warmupSteps = warmupSteps; self.decay = decay
    }

    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        switch decay {
        case .constant:
            return base
        case let .step(milestones, gamma):
            return base * powf(gamma, Float(milestones.filter { step >= $0 }.count))
        case let .cosine(minimum):
            let span = max(totalSteps - warmupSteps, 1)
            let t = min(Float(step - warmupSteps) / Float(span), 1)
            return minimum + (base - minimum) * 0.5 * (1 + cosf(Float.pi * t))
        }
    }
}
