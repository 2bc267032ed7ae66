import Synchronization

/// Tells a running solve to stop and return the best placement it has found so far: set from
/// any thread (a cancelled task, a signal handler, a lost lease); the solver reads it wherever
/// it reads its clock.
public final class StopSignal: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    public func stop() { requested.store(true, ordering: .relaxed) }

    public var isStopped: Bool { requested.load(ordering: .relaxed) }
}
