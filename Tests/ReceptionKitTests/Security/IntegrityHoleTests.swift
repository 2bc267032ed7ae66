import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Trust §4: the integrity holes found by attacking the schema stay closed.
@Suite("Security: integrity holes")
struct IntegrityHoleTests {
    /// The needs race: a need added to a household while a batch solves on its snapshot must
    /// never end in a proposal that reserves less than the household needs. A proposal written
    /// on the old snapshot fails with 40001: the database's rule under whatever the writer does
    /// (receptiond's own batches re-check such households before they write: BusyOfficersBatchTests).
    @Test func aNeedAddedWhileABatchSolvesNeverEndsInAProposalThatReservesLess() async throws {
        try await SecurityGround.with { ground in
            let worker = try await ground.logins.connect(.worker)
            let officer = try await ground.logins.connect(.officer)
            let caseID = try await ground.caseID("MIG-2026-1003")
            try await ground.admin.execute("""
                INSERT INTO capacity (municipality_code, period, dimension, quota) VALUES ('2480', 2026, 'trauma_care', 5)
                """)
            do {
                try await worker.withTransaction(isolation: .repeatableRead, maxAttempts: 1) { batch in
                    // The batch reads its instance: the household needs no trauma care yet.
                    _ = try await BatchInstance.load(period: 2026, municipalities: nil, today: TestDatabase.today, on: batch)
                    // Meanwhile an officer records that it does, and commits.
                    try await officer.execute("INSERT INTO case_needs (case_id, dimension, units) VALUES (\(caseID), 'trauma_care', 1)")
                    // The batch proposes on its old snapshot.
                    try await batch.execute("""
                        INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id)
                        VALUES (\(caseID), '2480', 2026, 'proposed', 900, \(ground.runningBatch))
                        """)
                }
                Issue.record("the stale proposal was written")
            } catch let error as PostgresError {
                #expect(error.sqlState == .serializationFailure, "\(error)")
            }
            // Nothing under-reserved: no active allocation holds less than the case's demand.
            let short = try await ground.admin.query("""
                SELECT count(*) AS n FROM allocations a
                WHERE a.status IN ('proposed', 'confirmed')
                  AND a.demand <> (SELECT jsonb_object_agg(d.dimension, d.units) FROM case_demand(a.case_id) d)
                """)
            #expect(try short[0].decode("n", as: Int.self) == 0)
            // Retried on a fresh snapshot, the proposal holds the trauma care place too.
            try await worker.withTransaction(isolation: .repeatableRead, maxAttempts: 1) { batch in
                try await batch.execute("""
                    INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id)
                    VALUES (\(caseID), '2480', 2026, 'proposed', 900, \(ground.runningBatch))
                    """)
            }
            #expect(try await WorkflowFixture.capacity("2480", "trauma_care", on: ground.admin).used == 1)
        }
    }

    /// A batch may hand in each proposal's demand (sql/012), so a compromised daemon might
    /// try to reserve less than a household needs and overbook the municipality. A demand that
    /// is not the household's is refused under the lock; an empty one is replaced by the
    /// household's own; an officer may not write a demand at all.
    @Test func aProposalThatClaimsLessThanTheHouseholdNeedsIsRefused() async throws {
        try await SecurityGround.with { ground in
            let worker = try await ground.logins.connect(.worker)
            let officer = try await ground.logins.connect(.officer)
            let one = try await ground.caseID("MIG-2026-1003"), other = try await ground.caseID("MIG-2026-1004")
            let before = try await ground.fingerprint()
            await expectRefused("""
                INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id, demand)
                VALUES (\(one), '2480', 2026, 'proposed', 900, \(ground.runningBatch), '{"persons": 1}'::jsonb)
                """, on: worker, .serializationFailure)
            await expectRefused("""
                INSERT INTO allocations (case_id, municipality_code, period, status, demand)
                VALUES (\(one), '2480', 2026, 'proposed', '{}'::jsonb)
                """, on: officer, .insufficientPrivilege)
            #expect(try await ground.fingerprint() == before, "nothing was written")
            try await worker.execute("""
                INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id, demand)
                VALUES (\(other), '2480', 2026, 'proposed', 900, \(ground.runningBatch), '{}'::jsonb)
                """)
            let short = try await ground.admin.query("""
                SELECT count(*) AS n FROM allocations a
                WHERE a.status IN ('proposed', 'confirmed')
                  AND a.demand <> (SELECT jsonb_object_agg(d.dimension, d.units) FROM case_demand(a.case_id) d)
                """)
            #expect(try short[0].decode("n", as: Int.self) == 0, "an empty demand holds the household's own")
        }
    }

    /// No allocation of any kind in a municipality before its joining date: not by a batch,
    /// not by an override, not forced, not even by the administrator.
    @Test func noAllocationBeforeAMunicipalityJoins() async throws {
        try await SecurityGround.with { ground in
            // It joins 40 days after the pinned today, whatever that is.
            let joins = try await ground.admin.query("""
                UPDATE municipalities SET joined_on = reception_today() + 40 WHERE code = '2284' RETURNING joined_on
                """)[0].decode("joined_on", as: CalendarDay.self)
            let before = try await ground.fingerprint()
            let officer = try await ground.logins.connect(.officer)
            for force in [false, true] {
                await #expect(throws: PostgresError.self) {
                    try await Allocations.override(caseReference: "MIG-2026-1001", to: "2284", period: 2026,
                                                   reason: "before it joins", force: force, on: officer)
                }
            }
            let caseID = try await ground.caseID("MIG-2026-1001")
            let proposal: Query = """
                INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id)
                VALUES (\(caseID), '2284', 2026, 'proposed', 900, \(ground.runningBatch))
                """
            await expectRefused(proposal, on: try await ground.logins.connect(.worker), .checkViolation)
            await expectRefused(proposal, on: ground.admin, .checkViolation)
            #expect(try await ground.fingerprint() == before)
            // From its joining day on (the database's clock) it receives placements, but not for
            // a period before it joined; and once it has some, its joining date stays.
            try await ReceptionClock.fix(today: joins, on: ground.admin)
            await #expect(throws: PostgresError.self) {
                try await Allocations.override(caseReference: "MIG-2026-1001", to: "2284", period: joins.year - 1,
                                               reason: "for last year", force: true, on: officer)
            }
            _ = try await Allocations.override(caseReference: "MIG-2026-1001", to: "2284", period: joins.year,
                                               reason: "joined today", force: true, on: officer)
            await expectRefused("UPDATE municipalities SET joined_on = '2026-06-01' WHERE code = '2284'", on: officer, .checkViolation)
        }
    }

    /// References are dossier numbers: unique without regard to case, and surrounding blanks
    /// do not make a new one.
    @Test func aReferenceDiffersOnlyInCaseIsTheSameDossier() async throws {
        try await SecurityGround.with { ground in
            let officer = try await ground.logins.connect(.officer)
            try await CaseRegistration.register(NewCase(reference: "MIG-2026-1", ages: [30], arrivedOn: TestDatabase.today), on: officer)
            for twin in ["mig-2026-1", "Mig-2026-1"] {
                await #expect(throws: InvalidInput.self) {
                    try await CaseRegistration.register(NewCase(reference: twin, ages: [31], arrivedOn: TestDatabase.today), on: officer)
                }
            }
            await expectRefused("INSERT INTO cases (reference, ages, arrived_on) VALUES ('mig-2026-1', '{31}', '2026-11-01')",
                                on: officer, .uniqueViolation)
            // The CSV import trims blanks before it checks, so ' mig-2026-1 ' is the same dossier.
            let rules = try await CaseRules.load(on: officer)
            let contents = CaseImport.read(Array("ref,ages\n mig-2026-1 ,40\n".utf8), format: .csv, rules: rules)
            #expect(contents.problems.isEmpty)
            await #expect(throws: InvalidInput.self) {
                try await CaseRegistration.register(contents.entries, on: officer)
            }
            #expect(try await Cases.find("mig-2026-1", on: officer)?.reference == "MIG-2026-1")
        }
    }
}
