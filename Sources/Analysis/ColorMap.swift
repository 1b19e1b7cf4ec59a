/// A colour map from [0, 1] to 8-bit RGB by linear interpolation between evenly spaced control colours.
public struct ColorMap: Sendable {
    public let stops: [(UInt8, UInt8, UInt8)]

    public init(stops: [(UInt8, UInt8, UInt8)]) {
        precondition(stops.count >= 2, "a colour map needs two colours")
        self.stops = stops
    }

    /// Matplotlib's viridis at nine points: perceptually uniform, readable in grey, colour-blind safe.
    public static let viridis = ColorMap(stops: [(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
                                                 (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)])

    /// The colour of t (clamped to [0, 1]; NaN draws as 0).
    public func color(_ t: Float) -> (UInt8, UInt8, UInt8) {
        let u = t.isNaN ? 0 : min(max(t, 0), 1) * Float(stops.count - 1)
        let i = min(Int(u), stops.count - 2), f = u - Float(i)
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Float(a) * (1 - f) + Float(b) * f).rounded()) }
        let (a, b) = (stops[i], stops[i + 1])
        return (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// The colour as an SVG/CSS hex string, `#rrggbb`.
    public func hex(_ t: Float) -> String {
        let (r, g, b) = color(t)
        return "#" + [r, g, b].map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
