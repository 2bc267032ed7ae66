/// How long a failed job waits before its next attempt: exponential backoff with jitter.
public struct RetryPolicy: Sendable, Equatable {
    /// The delay after the first failed attempt; each later one doubles it.
    public var base: Duration
    /// No delay is longer than this.
    public var maximum: Duration
    /// Each delay is scaled by a random factor in 1 ± jitter, so that jobs that failed together
    /// (a database outage, a bad deploy) do not retry together.
    public var jitter: Double

    public init(base: Duration, maximum: Duration, jitter: Double) {
        precondition(base > .zero && maximum >= base && (0...1).contains(jitter), "a retry policy needs 0 < base <= maximum and jitter in 0...1")
        self.base = base
        self.maximum = maximum
        self.jitter = jitter
    }

    /// 2 s, 4 s, 8 s, ... up to an hour, ± 20 %: ten attempts span about 17 minutes.
    public static let `default` = RetryPolicy.exponentialJitter()

    public static func exponentialJitter(base: Duration = .seconds(2), maximum: Duration = .seconds(3600), jitter: Double = 0.2) -> RetryPolicy {
        RetryPolicy(base: base, maximum: maximum, jitter: jitter)
    }

    /// The delay after `attempt` (from 1) failed.
    public func delay(afterAttempt attempt: Int) -> Duration {
        let exponent = Double(max(0, min(attempt - 1, 40)))
        let seconds = min(base.seconds * pow2(exponent), maximum.seconds)
        let factor = jitter == 0 ? 1 : Double.random(in: (1 - jitter)...(1 + jitter))
        return .milliseconds(max(1, Int64((seconds * factor * 1000).rounded())))
    }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(exponent) { value *= 2 }
        return value
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole milliseconds, for SQL intervals.
    var milliseconds: Int {
        Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000)
    }
}
