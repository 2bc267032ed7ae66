import CLibPQ

/// The isolation level of a transaction.
public enum IsolationLevel: Sendable {
    case readCommitted
    case repeatableRead
    case serializable
}

extension Connection {
    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    ///
    /// On a serialization failure or a deadlock (40001, 40P01) the whole transaction runs
    /// again, up to `maxAttempts` times in all, after a short randomized pause — so `body` must
    /// have no effects outside the database that would be wrong to repeat.
    /// Called inside another transaction, it runs within a savepoint instead (no retry there:
    /// the outer transaction owns that decision).
    @discardableResult
    public func withTransaction<T>(
        isolation: IsolationLevel = .readCommitted,
        readOnly: Bool = false,
        maxAttempts: Int = 5,
        _ body: (Connection) async throws -> T
    ) async throws -> T {
        // The whole transaction holds the connection: another task's statements wait outside it.
        try await owned { try await transaction(isolation: isolation, readOnly: readOnly, maxAttempts: maxAttempts, body) }
    }

    private func transaction<T>(
        isolation: IsolationLevel, readOnly: Bool, maxAttempts: Int, _ body: (Connection) async throws -> T
    ) async throws -> T {
        if transactionStatus != PQTRANS_IDLE {
            return try await withSavepoint(body)
        }
        var attempt = 1
        while true {
            try await begin(isolation: isolation, readOnly: readOnly)
            do {
                let value = try await body(self)
                try await execute("COMMIT")
                return value
            } catch {
                await rollbackIfOpen()
                let state = (error as? PostgresError)?.sqlState
                guard let state, state.isRetryableTransactionFailure, attempt < maxAttempts else { throw error }
                logger.debug("retrying a transaction", metadata: [
                    "postgres.sqlstate": "\(state.rawValue)", "postgres.attempt": "\(attempt)",
                ])
                attempt += 1
                // 2, 4, 8, ... ms, with jitter so that two colliding transactions drift apart.
                let base = 1 << min(attempt, 8)
                try await Task.sleep(for: .milliseconds(Int.random(in: base...(base * 2))))
            }
        }
    }

    private func begin(isolation: IsolationLevel, readOnly: Bool) async throws {
        switch (isolation, readOnly) {
        case (.readCommitted, false): try await execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        case (.readCommitted, true): try await execute("BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY")
        case (.repeatableRead, false): try await execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        case (.repeatableRead, true): try await execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        case (.serializable, false): try await execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        case (.serializable, true): try await execute("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY")
        }
    }

    private func rollbackIfOpen() async {
        guard isUsable, transactionStatus != PQTRANS_IDLE else { return }
        do {
            try await execute("ROLLBACK")
        } catch {
            logger.warning("rollback failed", metadata: ["error": "\(error)"])
        }
    }

    private func withSavepoint<T>(_ body: (Connection) async throws -> T) async throws -> T {
        try await execute("SAVEPOINT reception_nested")
        do {
            let value = try await body(self)
            try await execute("RELEASE SAVEPOINT reception_nested")
            return value
        } catch {
            if isUsable { _ = try? await execute("ROLLBACK TO SAVEPOINT reception_nested") }
            throw error
        }
    }
}
