import Foundation

/// The handlers a worker runs, by kind. Build it before starting the worker:
///
///     var registry = JobRegistry()
///     registry.register(NoopJob())
///     registry.register(AllocationBatchJob(...))
public struct JobRegistry: Sendable {
    private var handlers: [String: AnyJobHandler] = [:]

    public init() {}

    /// Adds a handler; a second handler for the same kind replaces the first.
    public mutating func register<Handler: JobHandler>(_ handler: Handler) {
        handlers[Handler.kind] = AnyJobHandler(handler)
    }

    /// The kinds this registry can run, sorted.
    public var kinds: [String] { handlers.keys.sorted() }

    func handler(for kind: String) -> AnyJobHandler? { handlers[kind] }
}

/// A handler with its arguments' type erased: decodes a job's arguments, then runs.
struct AnyJobHandler: Sendable {
    /// One attempt, its arguments decoded.
    struct Attempt: Sendable {
        let timeout: Duration?
        let run: @Sendable (JobContext) async throws -> Void
    }

    let retryPolicy: RetryPolicy?
    let atShutdown: ShutdownBehaviour
    /// Decodes the job's arguments; throws `argumentsDoNotDecode` when they do not.
    let prepare: @Sendable (ClaimedJob) throws -> Attempt

    init<Handler: JobHandler>(_ handler: Handler) {
        retryPolicy = Handler.retryPolicy
        atShutdown = Handler.atShutdown
        prepare = { job in
            let arguments: Handler.Arguments
            if Handler.Arguments.self == NoArguments.self {
                arguments = NoArguments() as! Handler.Arguments
            } else {
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                do {
                    arguments = try decoder.decode(Handler.Arguments.self, from: Data(job.arguments.utf8))
                } catch {
                    // DecodingError's text can quote the input; say only where it failed.
                    throw JobQueueError.argumentsDoNotDecode(kind: job.kind, type: "\(Handler.Arguments.self)", path: Self.codingPath(of: error))
                }
            }
            return Attempt(timeout: handler.timeout(for: arguments)) { context in
                try await handler.run(arguments, context: context)
            }
        }
    }

    private static func codingPath(of error: any Error) -> String {
        let path: [any CodingKey]
        switch error as? DecodingError {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            path = context.codingPath
        case .keyNotFound(let key, let context):
            path = context.codingPath + [key]
        default:
            path = []
        }
        return path.isEmpty ? "(top level)" : path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}
