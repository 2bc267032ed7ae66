/// Thrown by a handler to end its job other than by success or a plain failure.
public enum JobControl: Error, Sendable, CustomStringConvertible {
    /// Cancel the job: it will not run again (`reception jobs retry` can revive it).
    case cancel(reason: String)
    /// Discard the job at once, without using its remaining attempts (the dead letter).
    case discard(reason: String)
    /// Run the job again after this delay, without counting this attempt.
    case snooze(Duration)

    public var description: String {
        switch self {
        case .cancel(let reason): "cancelled by its handler: \(reason)"
        case .discard(let reason): "discarded by its handler: \(reason)"
        case .snooze(let delay): "snoozed for \(DurationText.format(delay))"
        }
    }
}
