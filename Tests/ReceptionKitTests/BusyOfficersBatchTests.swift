import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// A batch solves outside any transaction: officers who confirm, reject, import, withdraw and
/// change needs all through a long batch never make it start again, and what it writes still
/// holds every rule.
@Suite("A batch among busy officers")
struct BusyOfficersBatchTests {
    /// 120 municipalities with room for about 80 % of 12,000 pending households of three (big
    /// enough that the engine searches for its whole 20 s on a small machine); 1,000 earlier
    /// proposals for officers to decide, none of them among the longest waiting households that
    /// the officer withdraws or gives a need.
    static func seed(on db: Connection) async throws {
        try await db.executeScript("""
            INSERT INTO municipalities (code, name, joined_on, languages, shortage_occupations)
            SELECT (3000 + g)::text, 'Kommun ' || g, '2020-01-01', '{ar}', '{}' FROM generate_series(1, 120) g;
            INSERT INTO capacity (municipality_code, period, dimension, quota)
            SELECT m.code, 2026, d.name, d.quota FROM municipalities m
            CROSS JOIN (VALUES ('persons', 240), ('dwellings', 80), ('school_places', 80),
                               ('preschool_places', 30), ('large_dwellings', 8)) AS d(name, quota);
            INSERT INTO cases (reference, ages, language, arrived_on, family_ties)
            SELECT 'BUSY-' || g, ARRAY[30 + g % 20, 28 + g % 15, 6 + g % 10], CASE WHEN g % 3 = 0 THEN 'ar' ELSE 'so' END,
                   date '2026-01-01' + (g % 300), CASE WHEN g % 7 = 0 THEN ARRAY[(3000 + g % 120 + 1)::text] ELSE '{}' END
            FROM generate_series(1, 12000) g;
            INSERT INTO batches (period, summary) VALUES (2026, '{"time_limit": 5}');
            INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id)
            SELECT c.id, (3001 + c.id % 120)::text, 2026, 'proposed', 1000, (SELECT max(id) FROM batches)
            FROM cases c WHERE c.reference IN (SELECT 'BUSY-' || g FROM generate_series(1, 12000) g WHERE g % 300 BETWEEN 100 AND 124);
            """)
    }

    /// The officer's session: confirms, rejects, registers, withdraws and adds a need each step,
    /// every 100 ms for as long as the batch runs. Among the longest waiting households (the
    /// engine places them first), one is withdrawn and one now needs trauma care, which no
    /// municipality offers. A step that fails after the batch ended is the end (a proposed
    /// household's needs cannot change); one that fails while it runs fails the test, and so
    /// does running out of decisions to make. Prints how many steps it took.
    static let officerScript = #"""
        set -u
        url=$1; batch=$2; IFS=, read -ra confirm <<< "$3"; IFS=, read -ra reject <<< "$4"
        q() { psql "$url" -XAtq -v ON_ERROR_STOP=1 "$@"; }
        running() { [ "$(q -c "SELECT status FROM batches WHERE id = $batch")" = running ]; }
        steps=0
        for ((step = 0; ; step++)); do
            running || break
            [ "$step" -lt "${#confirm[@]}" ] || { echo "out of decisions after $step steps while the batch ran" >&2; exit 1; }
            g=$(( 300 * (step % 39 + 1) + 1 + 2 * (step / 39) ))
            if ! q >/dev/null <<SQL
        UPDATE allocations SET status = 'confirmed' WHERE id = ${confirm[$step]};
        UPDATE allocations SET status = 'rejected', decision_reason = 'the municipality asked to wait' WHERE id = ${reject[$step]};
        INSERT INTO cases (reference, ages, language, arrived_on) VALUES ('NEW-$step', '{40,12}', 'ar', reception_today());
        SELECT withdraw_case(id, 'moved abroad') FROM cases WHERE reference = 'BUSY-$g';
        INSERT INTO case_needs (case_id, dimension, units) SELECT id, 'trauma_care', 1 FROM cases WHERE reference = 'BUSY-$((g + 1))';
        SQL
            then
                running && { echo "step $step failed while the batch ran" >&2; exit 1; }
                break
            fi
            steps=$((steps + 1))
            sleep 0.1
        done
        echo "$steps"
        """#

    @Test func aBatchSolvesOnceWhileOfficersConfirmRejectAndImportEvery100ms() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            try await TestLogins.with(database: url) { logins in
                let admin = try await Connection.connect(url)
                try await Self.seed(on: admin)
                let earlier = try await Allocations.list(.init(status: "proposed"), on: admin).map(\.id).sorted()
                #expect(earlier.count == 1000)
                // The daemon as the worker's login: row-level security and the queue's rules apply.
                let daemon = try Receptiond.start(logins.url(.worker), ["--concurrency", "2"])
                defer { Receptiond.stop(daemon) }
                let officer = try await logins.connect(.officer)
                let batch = try await Batches.request(period: 2026, municipalities: nil, timeLimit: 20, dryRun: false, on: officer)
                let watcher = try await Connection.connect(url)
                try await withTimeout(.seconds(60)) {
                    while try await Batches.find(batch.id, on: watcher).status == "queued" { try await Task.sleep(for: .milliseconds(50)) }
                }

                // The officer, a process of its own (psql as the officer's login): every 100 ms,
                // while the batch runs, one decision of each kind, each on households of its own
                // (500 earlier proposals to confirm, 500 to reject), until the batch has ended.
                let officerProcess = Task {
                    try await Process.output(of: URL(fileURLWithPath: "/usr/bin/env"), [
                        "bash", "-c", Self.officerScript, "officer", logins.url(.officer), String(batch.id),
                        earlier.prefix(500).map(String.init).joined(separator: ","),
                        earlier.suffix(500).map(String.init).joined(separator: ","),
                    ])
                }
                let finished = try await withTimeout(.seconds(240)) { try await Batches.wait(for: batch.id, on: watcher) }
                let officerRun = try await officerProcess.value
                #expect(officerRun.status == 0, "\(officerRun.output)")
                let steps = Int(officerRun.output.split(separator: "\n").last ?? "") ?? 0

                #expect(finished.status == "finished", "\(finished.jobError ?? "")")
                // One full solve: the job's first attempt, never failed nor restarted.
                let job = try await admin.query("SELECT attempt, errors::text AS errors FROM jobs WHERE id = \(batch.jobID!)")[0]
                #expect(try job.decode("attempt", as: Int.self) == 1)
                #expect(try job.decode("errors", as: String.self) == "[]")
                // The officer was at work until the batch ended (status 0), over the whole 20 s
                // solve: at 100 ms and a psql start a step, a hundred steps or more; 20 is the
                // floor even on a machine five times slower.
                #expect(steps >= 20, "the officer acted \(steps) times while the batch ran")
                let recheck = try #require(finished.summary?.recheck)
                // Households withdrawn or given a need during the solve lost their proposals.
                #expect(recheck.dropped + recheck.resolved >= 1)
                #expect(finished.bound == nil || recheck.dropped + recheck.resolved == 0)

                let rows = try await admin.query("""
                    SELECT
                      (SELECT count(*) FROM capacity WHERE used > quota) AS overbooked,
                      (SELECT count(*) FROM (SELECT case_id FROM allocations WHERE status IN ('proposed', 'confirmed')
                                             GROUP BY case_id HAVING count(*) > 1) AS d) AS twice,
                      -- Live proposals only: a withdrawal after the batch finished cancels its proposal.
                      (SELECT count(*) FROM allocations a JOIN cases c ON c.id = a.case_id
                        WHERE a.batch_id = \(batch.id) AND a.status IN ('proposed', 'confirmed') AND (c.status = 'withdrawn'
                              OR EXISTS (SELECT 1 FROM case_needs n WHERE n.case_id = c.id AND n.dimension = 'trauma_care'))) AS wrong,
                      (SELECT count(*) FROM capacity k WHERE k.used <> coalesce((
                          SELECT sum((a.demand ->> k.dimension)::int) FROM allocations a
                          WHERE a.municipality_code = k.municipality_code AND a.period = k.period
                            AND a.status IN ('proposed', 'confirmed') AND NOT a.forced), 0)) AS unaccounted,
                      (SELECT count(*) FROM cases c WHERE (c.status IN ('proposed', 'placed')) <> EXISTS (
                          SELECT 1 FROM allocations a WHERE a.case_id = c.id AND a.status IN ('proposed', 'confirmed'))) AS inconsistent
                    """)[0]
                for column in ["overbooked", "twice", "wrong", "unaccounted", "inconsistent"] {
                    #expect(try rows.decode(column, as: Int.self) == 0, "\(column)")
                }
                #expect(finished.summary?.placed ?? 0 > 5000)
            }
        }
    }
}

/// SIGTERM stops a batch's solve at once: the daemon exits 0 well within its grace period
/// without finishing the batch, nothing of it is written, and its job is back in the queue
/// (the attempt not counted) for the next daemon.
@Suite("A batch at shutdown")
struct BatchAtShutdownTests {
    @Test func sigtermStopsTheSolveAndHandsTheBatchBack() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let admin = try await Connection.connect(url)
            try await BusyOfficersBatchTests.seed(on: admin)
            // A grace period longer than the batch's time limit: had the daemon let the solve
            // run, the batch would have finished before it exited.
            let daemon = try Receptiond.start(url, ["--grace-period", "120s"])
            defer { Receptiond.stop(daemon) }
            let batch = try await Batches.request(period: 2026, municipalities: nil, timeLimit: 60, dryRun: false, on: admin)
            try await withTimeout(.seconds(60)) {
                while try await Batches.find(batch.id, on: admin).status == "queued" { try await Task.sleep(for: .milliseconds(50)) }
            }
            try await Task.sleep(for: .seconds(2))  // well into the solve
            daemon.terminate()
            #expect(await daemon.exitStatus() == 0)
            let job = try await admin.query("SELECT state, attempt FROM jobs WHERE id = \(batch.jobID!)")[0]
            #expect(try job.decode("state", as: String.self) == "available")
            #expect(try job.decode("attempt", as: Int.self) == 0)
            #expect(try await Batches.find(batch.id, on: admin).status == "running")
            #expect(try await Allocations.list(.init(batch: batch.id), on: admin).isEmpty)
        }
    }
}
