/// `noop`: does nothing and succeeds. For operators' smoke tests (`reception jobs enqueue
/// --kind noop`) and for benchmarks. Accepts any arguments and ignores them.
public struct NoopJob: JobHandler {
    public typealias Arguments = NoArguments
    public static let kind = "noop"

    public init() {}

    public func run(_ arguments: NoArguments, context: JobContext) async throws {}
}
