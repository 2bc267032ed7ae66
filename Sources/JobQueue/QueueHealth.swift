import Foundation
import Postgres

/// Whether the queue is being drained, for monitoring (`reception jobs health`): some daemon
/// heartbeated within its lease, and no ready job has waited longer than a threshold.
public struct QueueHealth: Sendable, Codable, Equatable {
    /// A daemon as its last heartbeat reported it.
    public struct Worker: Sendable, Codable, Equatable {
        public let id: String
        public let login: String
        public let queues: [String]
        public let concurrency: Int
        public let running: Int
        public let secondsSinceHeartbeat: Double
        /// Heartbeated within its lease. A daemon that stopped removes its row; one that died
        /// stays listed, not alive, until a daemon of its login prunes it a day later.
        public let alive: Bool

        enum CodingKeys: String, CodingKey {
            case id, login, queues, concurrency, running, alive
            case secondsSinceHeartbeat = "seconds_since_heartbeat"
        }
    }

    public let workers: [Worker]
    public let pausedQueues: [String]
    /// The daemon (worker id) that runs the queue's maintenance, if one leads now.
    public let leader: String?
    /// How long the oldest job that is ready to run (in a queue that is not paused) has waited.
    public let oldestReadySeconds: Double?
    public let maximumWaitSeconds: Double
    /// What is wrong, in words; empty when healthy.
    public let problems: [String]

    public var isHealthy: Bool { problems.isEmpty }

    enum CodingKeys: String, CodingKey {
        case workers, problems, leader
        case pausedQueues = "paused_queues", oldestReadySeconds = "oldest_ready_seconds"
        case maximumWaitSeconds = "maximum_wait_seconds", healthy
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(isHealthy, forKey: .healthy)
        try container.encode(problems, forKey: .problems)
        try container.encode(workers, forKey: .workers)
        try container.encode(pausedQueues, forKey: .pausedQueues)
        try container.encodeIfPresent(leader, forKey: .leader)
        try container.encodeIfPresent(oldestReadySeconds, forKey: .oldestReadySeconds)
        try container.encode(maximumWaitSeconds, forKey: .maximumWaitSeconds)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        workers = try container.decode([Worker].self, forKey: .workers)
        pausedQueues = try container.decode([String].self, forKey: .pausedQueues)
        leader = try container.decodeIfPresent(String.self, forKey: .leader)
        oldestReadySeconds = try container.decodeIfPresent(Double.self, forKey: .oldestReadySeconds)
        maximumWaitSeconds = try container.decode(Double.self, forKey: .maximumWaitSeconds)
        problems = try container.decode([String].self, forKey: .problems)
    }

    static func read(maximumWait: Duration, on connection: Connection) async throws -> QueueHealth {
        let workerRows = try await connection.query(JobStatements.workers)
        let workers = try workerRows.map { row in
            Worker(id: try row.decode("id"), login: try row.decode("login"), queues: try row.decode("queues"),
                   concurrency: try row.decode("concurrency", as: Int.self), running: try row.decode("running", as: Int.self),
                   secondsSinceHeartbeat: try row.decode("age"), alive: try row.decode("alive"))
        }
        let paused = try await connection.query(JobStatements.pausedQueues)
            .map { try $0.decode("queue", as: String.self) }
        let oldest = try await connection.query(JobStatements.oldestDue)[0].decode("seconds", as: Double?.self)
        // A leader whose session ended or whose term ran out leads no more.
        let leader = try await connection.query(JobStatements.leader).first?.decode("worker", as: String.self)
        var problems: [String] = []
        if !workers.contains(where: \.alive) {
            problems.append(workers.isEmpty ? "no daemon is running (none has ever reported, or all stopped)"
                                            : "no daemon heartbeated within its lease")
        }
        let limit = maximumWait.seconds
        if let oldest, oldest > limit {
            problems.append("the oldest ready job has waited \(DurationText.format(.milliseconds(Int64(oldest * 1000)))), more than \(DurationText.format(maximumWait))")
        }
        return QueueHealth(workers: workers, pausedQueues: paused, leader: leader, oldestReadySeconds: oldest,
                           maximumWaitSeconds: limit, problems: problems)
    }

    init(workers: [Worker], pausedQueues: [String], leader: String?, oldestReadySeconds: Double?, maximumWaitSeconds: Double, problems: [String]) {
        self.workers = workers
        self.pausedQueues = pausedQueues
        self.leader = leader
        self.oldestReadySeconds = oldestReadySeconds
        self.maximumWaitSeconds = maximumWaitSeconds
        self.problems = problems
    }
}
