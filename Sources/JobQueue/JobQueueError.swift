/// Errors of the job queue. Descriptions name jobs by id and kind, never by their arguments.
public enum JobQueueError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A job to enqueue is malformed.
    case invalidJob(String)
    /// A unique key kept changing hands while enqueuing; try again.
    case uniqueKeyContention
    /// No handler is registered for the kind (a newer daemon may know it).
    case unknownKind(String)
    /// The job's arguments do not decode as its handler's `Arguments`.
    case argumentsDoNotDecode(kind: String, type: String, path: String)
    /// This worker no longer holds the job: it was cancelled, or rescued after the lease
    /// expired and is being run elsewhere. Nothing was written.
    case leaseLost(jobID: Int64)
    /// The jobs table does not exist.
    case notMigrated
    /// The login may not work the queue (it may not stage jobs): it would claim nothing.
    case notPermitted
    /// A worker configuration that cannot work: no queue, no slot, a too short lease, or a
    /// database that refuses the connection for good (wrong database, role or password).
    case invalidConfiguration(String)
    /// The database could not be reached within the start's retry budget.
    case databaseUnreachable(String)
    /// An operator action that the job's state does not allow.
    case notAllowed(jobID: Int64, state: JobState, action: String)

    public var description: String {
        switch self {
        case .invalidJob(let why): "invalid job: \(why)"
        case .uniqueKeyContention: "could not enqueue: the unique key kept changing hands; try again"
        case .unknownKind(let kind): "no handler for job kind \"\(kind)\" in this worker"
        case .argumentsDoNotDecode(let kind, let type, let path):
            "the arguments of a \"\(kind)\" job do not decode as \(type) (at \(path))"
        case .leaseLost(let id): "job \(id) is no longer held by this worker (cancelled, or rescued after its lease expired); nothing was written"
        case .invalidConfiguration(let why): "invalid worker configuration: \(why)"
        case .databaseUnreachable(let why): "the database could not be reached: \(why)"
        case .notMigrated: "the jobs table does not exist: the database is not migrated"
        case .notPermitted: "this login may not work the queue (the database does not let it stage jobs): it would claim nothing"
        case .notAllowed(let id, let state, let action): "job \(id) is \(state.rawValue): cannot \(action) it"
        }
    }

    static func validate(_ job: NewJob) throws {
        guard !job.kind.isEmpty, job.kind.count <= 100 else { throw JobQueueError.invalidJob("a kind is 1 to 100 characters") }
        guard NewJob.isValidQueueName(job.queue) else { throw JobQueueError.invalidJob(NewJob.queueNameRule) }
        guard (-32768...32767).contains(job.priority) else { throw JobQueueError.invalidJob("priority is between -32768 and 32767") }
        if let max = job.maxAttempts, max < 1 { throw JobQueueError.invalidJob("max attempts is at least 1") }
        if let key = job.uniqueKey, key.isEmpty { throw JobQueueError.invalidJob("a unique key is not empty") }
    }
}
