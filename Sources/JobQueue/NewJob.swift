import Foundation

/// A job to enqueue. The server fills in what is left nil: run now, priority 0, 10 attempts.
public struct NewJob: Sendable {
    public var kind: String
    /// The arguments as JSON text (an object, usually). Never logged.
    public var arguments: String
    public var queue: String
    /// Higher runs first; 0 by default.
    public var priority: Int
    /// When to run it; nil means now (the server's clock).
    public var runAt: Date?
    public var maxAttempts: Int?
    /// While a job with this key is available, retryable or running, enqueuing another with the
    /// same key adds nothing and returns the existing job. Scope it yourself
    /// (`"allocation-batch:42"`).
    public var uniqueKey: String?

    public static let defaultQueue = "default"

    /// A queue's name: 1 to 100 characters (the jobs table's CHECK says the same).
    public static func isValidQueueName(_ name: String) -> Bool { !name.isEmpty && name.count <= 100 }
    public static let queueNameRule = "a queue name is 1 to 100 characters"

    public init(
        kind: String,
        argumentsJSON: String = "{}",
        queue: String = NewJob.defaultQueue,
        priority: Int = 0,
        runAt: Date? = nil,
        maxAttempts: Int? = nil,
        uniqueKey: String? = nil
    ) {
        self.kind = kind
        self.arguments = argumentsJSON
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.uniqueKey = uniqueKey
    }

    /// A job with Codable arguments, encoded as JSON.
    public init<Arguments: Encodable>(
        kind: String,
        arguments: Arguments,
        queue: String = NewJob.defaultQueue,
        priority: Int = 0,
        runAt: Date? = nil,
        maxAttempts: Int? = nil,
        uniqueKey: String? = nil
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let json = String(decoding: try encoder.encode(arguments), as: UTF8.self)
        self.init(kind: kind, argumentsJSON: json, queue: queue, priority: priority, runAt: runAt,
                  maxAttempts: maxAttempts, uniqueKey: uniqueKey)
    }

    /// A job for a handler type, with its kind and typed arguments.
    public init<Handler: JobHandler>(
        _ handler: Handler.Type,
        arguments: Handler.Arguments,
        queue: String = NewJob.defaultQueue,
        priority: Int = 0,
        runAt: Date? = nil,
        maxAttempts: Int? = nil,
        uniqueKey: String? = nil
    ) throws {
        try self.init(kind: Handler.kind, arguments: arguments, queue: queue, priority: priority, runAt: runAt,
                      maxAttempts: maxAttempts, uniqueKey: uniqueKey)
    }
}

/// What `enqueue` did.
public struct EnqueuedJob: Sendable, Equatable {
    public let id: Int64
    /// False when a job with the same unique key was already queued or running: `id` is that
    /// job's, and nothing was added.
    public let inserted: Bool
}
