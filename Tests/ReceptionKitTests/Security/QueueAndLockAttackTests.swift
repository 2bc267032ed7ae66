import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// A compromised daemon, and a second one, against what the batch write and the queue's
/// operation added: the row locks a worker is lent, its own job as a lever on its batch, the
/// rescue of another login's job, job ids, the batch job kind, paused queues, and the
/// daemons' presence that `reception jobs health` trusts.
@Suite("Security: the worker's locks, the queue's rules, the daemons' presence")
struct QueueAndLockAttackTests {
    /// A second worker login for the test's database, dropped afterwards.
    static func withSecondWorker(_ ground: SecurityGround, _ body: (Connection, String) async throws -> Void) async throws {
        let server = try await Connection.connect(try TestDatabase.serverURL())
        let name = "t_worker2_" + UUID().uuidString.prefix(8).lowercased()
        try await server.executeScript("CREATE ROLE \(name) LOGIN IN ROLE reception_worker")
        do {
            let second = try await Connection.connect(TestDatabase.url(ground.logins.adminURL, user: name))
            try await body(second, name)
        } catch {
            _ = try? await server.executeScript("DROP ROLE IF EXISTS \(name)")
            throw error
        }
        _ = try? await server.executeScript("DROP ROLE IF EXISTS \(name)")
    }

    @Test func aWorkerIsLentRowLocksOnlyForTheBatchItRunsAndOnlyOnWhatItMayWrite() async throws {
        try await SecurityGround.with { ground in
            let worker = try await ground.logins.connect(.worker)
            let officer = try await ground.logins.connect(.officer)
            let auditor = try await ground.logins.connect(.auditor)
            let one = try await ground.caseID("MIG-2026-1001")
            let other = try await Batches.request(period: 2026, municipalities: nil, timeLimit: 5, dryRun: false, on: officer)
            let before = try await ground.fingerprint()
            // Not the batch it runs.
            await expectRefused("SELECT * FROM batch_lock_cases(\(other.id)::bigint, ARRAY[\(one)]::bigint[])", on: worker, .insufficientPrivilege)
            await expectRefused("SELECT * FROM batch_lock_capacity(\(other.id)::bigint, ARRAY['2480'])", on: worker, .insufficientPrivilege)
            // Not for other roles at all.
            for connection in [officer, auditor] {
                await expectRefused("SELECT * FROM batch_lock_cases(\(ground.runningBatch)::bigint, ARRAY[\(one)]::bigint[])",
                                    on: connection, .insufficientPrivilege)
            }
            await expectRefused("SELECT case_fingerprint(NULL::cases)", on: auditor, .insufficientPrivilege)
            #expect(try await ground.fingerprint() == before)

            // Its own batch: only pending households come back (and are locked), and only the
            // municipalities that still take placements.
            try await ground.admin.execute("SELECT withdraw_case(\(one), 'moved abroad')")
            try await ground.admin.execute("UPDATE municipalities SET active = false WHERE code = '2460'")
            let all = try await ground.admin.query("SELECT array_agg(id) AS ids FROM cases")[0].decode("ids", as: [Int].self)
            try await worker.withTransaction { transaction in
                let locked = try await transaction.query("SELECT id FROM batch_lock_cases(\(ground.runningBatch)::bigint, \(all)::bigint[])")
                    .map { try $0.decode("id", as: Int.self) }
                #expect(locked.count == all.count - 1 && !locked.contains(one))
                let codes = try await transaction.query("""
                    SELECT DISTINCT municipality_code FROM batch_lock_capacity(\(ground.runningBatch)::bigint, ARRAY['2480', '2460', '2284'])
                    """).map { try $0.decode("municipality_code", as: String.self) }
                #expect(Set(codes) == ["2480", "2284"])
            }
        }
    }

    @Test func aWorkerThatCancelsItsOwnJobOnlyFailsItsBatch() async throws {
        try await SecurityGround.with { ground in
            let worker = try await ground.logins.connect(.worker)
            try await worker.execute("""
                UPDATE jobs SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL
                WHERE id = (SELECT job_id FROM batches WHERE id = \(ground.runningBatch))
                """)
            let batch = try await ground.admin.query("SELECT status, error FROM batches WHERE id = \(ground.runningBatch)")[0]
            #expect(try batch.decode("status", as: String.self) == "failed")
            #expect(try batch.decode("error", as: String.self) == "its job was cancelled by the worker login \(ground.logins.login(.worker))")
        }
    }

    /// A cancel request is the operator's (sql/021): no application login records one to pass a
    /// worker's cancel off as an operator's (and so cancel, not fail, a batch), takes one back
    /// to keep a job alive, or rewrites who asked.
    @Test func onlyTheOwnerRecordsOrTakesBackACancelRequest() async throws {
        try await SecurityGround.with { ground in
            let job: Int = try await ground.admin.query("SELECT job_id FROM batches WHERE id = \(ground.runningBatch)")[0].decode("job_id")
            let worker = try await ground.logins.connect(.worker)
            let officer = try await ground.logins.connect(.officer)
            let auditor = try await ground.logins.connect(.auditor)
            let outsider = try await ground.logins.connectOutsiderGivenConnect()
            for connection in [worker, officer, auditor, outsider] {
                await expectRefused("INSERT INTO job_cancel_requests (job_id) VALUES (\(job))", on: connection, .insufficientPrivilege)
            }
            try await ground.admin.execute("INSERT INTO job_cancel_requests (job_id) VALUES (\(job))")
            for connection in [worker, officer, auditor, outsider] {
                await expectRefused("DELETE FROM job_cancel_requests WHERE job_id = \(job)", on: connection, .insufficientPrivilege)
                await expectRefused("UPDATE job_cancel_requests SET requested_by = 'someone else'", on: connection, .insufficientPrivilege)
            }
            // Workers and officers see it (the heartbeat, jobs show); auditors and outsiders do not.
            for connection in [worker, officer] {
                #expect(try await connection.query("SELECT job_id FROM job_cancel_requests").count == 1)
            }
            for connection in [auditor, outsider] {
                await expectRefused("SELECT job_id FROM job_cancel_requests", on: connection, .insufficientPrivilege)
            }
            // The worker, honouring it, cancels its own job: the batch is cancelled as the operator asked.
            try await worker.execute("""
                UPDATE jobs SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL WHERE id = \(job)
                """)
            let batch = try await ground.admin.query("SELECT status, error FROM batches WHERE id = \(ground.runningBatch)")[0]
            #expect(try batch.decode("status", as: String.self) == "cancelled")
        }
    }

    /// Retention prunes as the worker login, which may not delete cancel requests: a request
    /// goes with its job all the same (sql/022), and only with it.
    @Test func aPrunedJobTakesItsCancelRequestWithIt() async throws {
        try await SecurityGround.with { ground in
            let enqueue: Query = "INSERT INTO jobs (kind) VALUES ('noop') RETURNING id"
            let old: Int = try await ground.admin.query(enqueue)[0].decode("id")
            let live: Int = try await ground.admin.query(enqueue)[0].decode("id")
            try await ground.admin.execute("UPDATE jobs SET state = 'cancelled', finished_at = now() - interval '30 days' WHERE id = \(old)")
            try await ground.admin.execute("INSERT INTO job_cancel_requests (job_id) VALUES (\(old)), (\(live))")
            let worker = try await ground.logins.connect(.worker)
            // Retention's statement, as the worker login runs it.
            let pruned = try await worker.execute("""
                DELETE FROM jobs WHERE state IN ('succeeded', 'discarded', 'cancelled') AND finished_at < now() - interval '7 days'
                """)
            #expect(pruned == 1)
            let left: [Int] = try await ground.admin.query("SELECT job_id FROM job_cancel_requests ORDER BY job_id").map { try $0.decode("job_id") }
            #expect(left == [live])
            // The trigger's function is not a way around the owner's rule.
            await expectRefused("SELECT jobs_forget_cancel_requests()", on: worker, .insufficientPrivilege)
        }
    }

    @Test func anotherWorkerRescuesAnExpiredJobOnlyByTheRules() async throws {
        try await SecurityGround.with { ground in
            try await Self.withSecondWorker(ground) { second, _ in
                let job: Int = try await ground.admin.query("SELECT job_id FROM batches WHERE id = \(ground.runningBatch)")[0].decode("job_id")
                try await ground.admin.execute("UPDATE jobs SET lease_expires_at = now() - interval '1 minute' WHERE id = \(job)")
                let before = try await ground.fingerprint()
                // Discarded with attempts left, under a message of its choice: refused.
                await expectRefused("""
                    UPDATE jobs SET state = 'discarded', finished_at = now(), lease_expires_at = NULL,
                           errors = errors || '[{"message": "officer Anna cancelled this", "worker": "security-test"}]'
                    WHERE id = \(job)
                    """, on: second, .insufficientPrivilege)
                await expectRefused("""
                    UPDATE jobs SET state = 'retryable', lease_expires_at = NULL,
                           errors = errors || '[{"message": "officer Anna cancelled this", "worker": "security-test"}]'
                    WHERE id = \(job)
                    """, on: second, .insufficientPrivilege)
                #expect(try await ground.fingerprint() == before)
                // The rescue as the queue writes it: allowed.
                try await second.execute("""
                    UPDATE jobs SET state = 'retryable', lease_expires_at = NULL,
                           errors = errors || jsonb_build_array(jsonb_build_object('message', 'worker lost: its lease expired', 'worker', lease_owner))
                    WHERE id = \(job)
                    """)
                #expect(try await ground.admin.query("SELECT state FROM jobs WHERE id = \(job)")[0].decode("state", as: String.self) == "retryable")
            }
        }
    }

    @Test func aWorkerCannotTakeJobIdsEnqueueBatchJobsOrClaimFromAPausedQueue() async throws {
        try await SecurityGround.with { ground in
            let worker = try await ground.logins.connect(.worker)
            let next: Int = try await ground.admin.query("SELECT max(id) + 1 AS n FROM jobs")[0].decode("n")
            await expectRefused("INSERT INTO jobs (id, kind, state, finished_at) VALUES (\(next), 'noop', 'succeeded', now())",
                                on: worker, SQLState(rawValue: "428C9"))
            await expectRefused("""
                INSERT INTO jobs (kind, args, max_attempts) VALUES ('allocation-batch', '{"batch_id": 1, "time_limit": 1e300}', 1000)
                """, on: worker, .insufficientPrivilege)
            // Pausing is the administrator's; a paused queue is not claimed, whatever the daemon.
            for role: TestLogins.Role in [.officer, .worker, .auditor] {
                await expectRefused("INSERT INTO job_queue_pauses (queue) VALUES ('default')", on: try await ground.logins.connect(role), .insufficientPrivilege)
            }
            try await worker.execute("INSERT INTO jobs (kind) VALUES ('noop')")
            try await ground.admin.execute("INSERT INTO job_queue_pauses (queue) VALUES ('default')")
            await expectRefused("""
                UPDATE jobs SET state = 'running', attempt = attempt + 1, claimed_by = session_user, lease_owner = 'x',
                       lease_expires_at = now() + interval '1 minute'
                WHERE kind = 'noop' AND state = 'available'
                """, on: worker, .insufficientPrivilege)
            await expectRefused("DELETE FROM job_queue_pauses", on: worker, .insufficientPrivilege)
        }
    }

    @Test func aDaemonCannotForgePresence() async throws {
        try await SecurityGround.with { ground in
            try await Self.withSecondWorker(ground) { second, secondLogin in
                let worker = try await ground.logins.connect(.worker)
                // Alive for the next century, as another login: the server stamps who and when.
                try await worker.execute("""
                    INSERT INTO job_workers (id, login, queues, concurrency, lease_ms, heartbeat_at, started_at)
                    VALUES ('w1', \(secondLogin), '{default}', 1, 30000, now() + interval '100 years', now() + interval '100 years')
                    """)
                let row = try await ground.admin.query("""
                    SELECT login, heartbeat_at <= now() AND started_at <= now() AS stamped FROM job_workers WHERE id = 'w1'
                    """)[0]
                #expect(try row.decode("login", as: String.self) == ground.logins.login(.worker))
                #expect(try row.decode("stamped", as: Bool.self))
                await expectRefused("UPDATE job_workers SET lease_ms = 9000000000000000000 WHERE id = 'w1'", on: worker, .checkViolation)
                // Another daemon's row is not its to change or remove.
                try await expectNoRowChanged("UPDATE job_workers SET running = 7 WHERE id = 'w1'", on: second)
                try await expectNoRowChanged("DELETE FROM job_workers WHERE id = 'w1'", on: second)
                await expectRefused("""
                    INSERT INTO job_workers (id, queues, concurrency, lease_ms) VALUES ('w1', '{default}', 1, 30000)
                    ON CONFLICT (id) DO UPDATE SET running = 9
                    """, on: second, .insufficientPrivilege)
                for role: TestLogins.Role in [.officer, .auditor] {
                    await expectRefused("INSERT INTO job_workers (id, queues, concurrency, lease_ms) VALUES ('o', '{default}', 1, 1000)",
                                        on: try await ground.logins.connect(role), .insufficientPrivilege)
                }
            }
        }
    }

    /// The queue's maintenance: leadership, staging and periodic slots are the workers' alone
    /// (a login without a role cannot even connect: RoleBoundaryTests),
    /// and even a worker stages only what is due and cannot unseat another daemon.
    @Test func maintenanceCannotBeSilencedHijackedOrRushed() async throws {
        try await SecurityGround.with { ground in
            try await Self.withSecondWorker(ground) { second, _ in
                let worker = try await ground.logins.connect(.worker)
                for role: TestLogins.Role in [.officer, .auditor] {
                    let connection = try await ground.logins.connect(role)
                    await expectRefused("SELECT jobs_lead('me', 3600000)", on: connection, .insufficientPrivilege)
                    await expectRefused("SELECT jobs_stage(100)", on: connection, .insufficientPrivilege)
                    await expectRefused("SELECT jobs_resign('x')", on: connection, .insufficientPrivilege)
                    await expectRefused("DELETE FROM job_leader", on: connection, .insufficientPrivilege)
                    await expectRefused("INSERT INTO job_periodic (name, schedule, last_slot) VALUES ('prune-jobs', 'every hour', 'infinity')",
                                        on: connection, .insufficientPrivilege)
                }
                // The leader is a session; a second worker login neither takes its place,
                // writes the table, nor resigns it under its name.
                #expect(try await worker.query("SELECT jobs_lead('daemon-a', 60000) AS l")[0].decode("l", as: Bool.self))
                #expect(try await second.query("SELECT jobs_lead('daemon-a', 60000) AS l")[0].decode("l", as: Bool.self) == false)
                #expect(try await second.query("SELECT jobs_resign('daemon-a') AS r")[0].decode("r", as: Bool.self) == false)
                await expectRefused("UPDATE job_leader SET expires_at = now() - interval '1 hour'", on: second, .insufficientPrivilege)
                await expectRefused("DELETE FROM job_leader", on: second, .insufficientPrivilege)
                await expectRefused("SELECT jobs_lead('daemon-b', 1e12::bigint)", on: second, .invalidParameterValue)
                #expect(try await ground.admin.query("SELECT worker FROM job_leader")[0].decode("worker", as: String.self) == "daemon-a")
                // Staging moves only what is due; claiming a scheduled job early is refused.
                try await worker.execute("INSERT INTO jobs (kind, run_at) VALUES ('noop', now() + interval '1 day')")
                let scheduled: Int = try await ground.admin.query("SELECT max(id) AS id FROM jobs WHERE state = 'scheduled'")[0].decode("id")
                _ = try await second.query("SELECT jobs_stage(100000)")
                #expect(try await ground.admin.query("SELECT state FROM jobs WHERE id = \(scheduled)")[0].decode("state", as: String.self) == "scheduled")
                await expectRefused("""
                    UPDATE jobs SET state = 'running', attempt = attempt + 1, claimed_by = session_user, lease_owner = 'x',
                           lease_expires_at = now() + interval '1 minute'
                    WHERE id = \(scheduled)
                    """, on: second, .insufficientPrivilege)
                await expectRefused("UPDATE jobs SET state = 'available' WHERE id = \(scheduled)", on: second, .insufficientPrivilege)
                // Periodic jobs cannot be silenced by a slot far ahead (sql/024): retention and
                // the deadline check would never be enqueued again.
                try await worker.execute("INSERT INTO job_periodic (name, schedule, last_slot) VALUES ('deadline-check', 'every day at 06:00', now())")
                for far in ["'infinity'", "now() + interval '10 years'", "now() + interval '2 days'"] {
                    // SQL, not a bound value: the attacker's own expression.
                    await expectRefused(Query(stringLiteral: "INSERT INTO job_periodic (name, schedule, last_slot) VALUES ('prune-jobs', 'every hour', \(far))"),
                                        on: second, .checkViolation)
                    await expectRefused(Query(stringLiteral: "UPDATE job_periodic SET last_slot = \(far) WHERE name = 'deadline-check'"),
                                        on: second, .checkViolation)
                }
                // A slot a little ahead (a host clock some hours fast) is taken.
                try await second.execute("UPDATE job_periodic SET last_slot = now() + interval '3 hours' WHERE name = 'deadline-check'")
            }
        }
    }
}
