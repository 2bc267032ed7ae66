import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

@Suite("Decisions on proposals")
struct DecisionTests {
    @Test func confirmPlacesTheHouseholdAndRecordsWho() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 2)
            let batch = try await WorkflowFixture.batch(on: db)
            let id = try await WorkflowFixture.propose("MIG-2026-1001", to: "2480", batch: batch, on: db)
            let confirmed = try await Allocations.confirm(ids: [id], on: db)
            #expect(confirmed.map(\.status) == ["confirmed"])
            let login = try await TestDatabase.sessionUser(on: db)
            #expect(confirmed.first?.decidedBy == login)
            #expect(try await WorkflowFixture.caseStatus("MIG-2026-1001", on: db) == "placed")
            let events = try await AuditTrail.events(.init(caseReference: "MIG-2026-1001"), on: db)
            #expect(events.map(\.action).suffix(2) == ["allocation.proposed", "allocation.confirmed"])
            #expect(events.last?.actor == login)
        }
    }

    @Test func confirmIsAllOrNothing() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 2)
            let batch = try await WorkflowFixture.batch(on: db)
            let first = try await WorkflowFixture.propose("MIG-2026-1001", to: "2480", batch: batch, on: db)
            let second = try await WorkflowFixture.propose("MIG-2026-1002", to: "2460", batch: batch, on: db)
            _ = try await Allocations.reject(id: second, reason: "dwelling not ready", on: db)
            await #expect(throws: ReceptionError.self) {
                try await Allocations.confirm(ids: [first, second], on: db)
            }
            await #expect(throws: ReceptionError.notFound("no allocation with id 999")) {
                try await Allocations.confirm(ids: [first, 999], on: db)
            }
            #expect(try await Allocations.find(ids: [first], on: db).map(\.status) == ["proposed"])
        }
    }

    @Test func rejectFreesCapacityAndTheCaseWaitsAgain() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 1)
            let batch = try await WorkflowFixture.batch(on: db)
            let id = try await WorkflowFixture.propose("MIG-2026-1001", to: "2480", batch: batch, on: db)
            #expect(try await WorkflowFixture.capacity("2480", on: db).used == 3)
            #expect(try await WorkflowFixture.capacity("2480", "school_places", on: db).used == 1)
            let rejected = try await Allocations.reject(id: id, reason: "family asked for the coast", on: db)
            #expect(rejected.status == "rejected")
            #expect(try await WorkflowFixture.capacity("2480", on: db).used == 0)
            #expect(try await WorkflowFixture.capacity("2480", "school_places", on: db).used == 0)
            #expect(try await WorkflowFixture.caseStatus("MIG-2026-1001", on: db) == "registered")
            // A rejected allocation is final.
            await #expect(throws: ReceptionError.self) { try await Allocations.reject(id: id, reason: "again", on: db) }
        }
    }

    @Test func overrideIsCapacityCheckedUnlessForced() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            // Room for one household of three per municipality.
            try await WorkflowFixture.seed(on: db, cases: 2, personsQuota: 3)
            _ = try await Allocations.override(caseReference: "MIG-2026-1001", to: "2460", period: 2026,
                                               reason: "family in Vännäs", force: false, on: db)
            #expect(try await WorkflowFixture.caseStatus("MIG-2026-1001", on: db) == "placed")
            // Vännäs is now full: a second household is refused by the database...
            do {
                _ = try await Allocations.override(caseReference: "MIG-2026-1002", to: "2460", period: 2026,
                                                   reason: "family in Vännäs", force: false, on: db)
                Issue.record("an override past capacity was accepted")
            } catch let error as PostgresError {
                #expect(error.sqlState == .checkViolation)
            }
            #expect(try await WorkflowFixture.caseStatus("MIG-2026-1002", on: db) == "registered")
            // ...unless forced, which is recorded as such and shows as over quota.
            let forced = try await Allocations.override(caseReference: "MIG-2026-1002", to: "2460", period: 2026,
                                                        reason: "council decision 2026-11-20", force: true, on: db)
            #expect(forced.forced)
            let persons = try await WorkflowFixture.capacity("2460", on: db)
            #expect(persons.used == 3 && persons.forced == 3)
            let events = try await AuditTrail.events(.init(caseReference: "MIG-2026-1002"), on: db)
            #expect(events.last?.action == "allocation.forced")
        }
    }

    @Test func overrideMovesAProposalAndFreesTheOldPlace() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 1)
            let batch = try await WorkflowFixture.batch(on: db)
            _ = try await WorkflowFixture.propose("MIG-2026-1001", to: "2480", batch: batch, on: db)
            let moved = try await Allocations.override(caseReference: "MIG-2026-1001", to: "2460", period: nil,
                                                       reason: "closer to relatives", force: false, on: db)
            #expect(moved.municipalityCode == "2460" && moved.status == "confirmed")
            #expect(try await WorkflowFixture.capacity("2480", on: db).used == 0)
            #expect(try await WorkflowFixture.capacity("2460", on: db).used == 3)
            let active = try await Allocations.list(.init(caseReference: "MIG-2026-1001"), on: db).filter { $0.status == "confirmed" || $0.status == "proposed" }
            #expect(active.count == 1)
        }
    }

    @Test func hardRulesHoldEvenWhenForced() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 1)
            try await db.execute("UPDATE cases SET excluded = \(["2284"]) WHERE reference = 'MIG-2026-1001'")
            do {
                _ = try await Allocations.override(caseReference: "MIG-2026-1001", to: "2284", period: 2026,
                                                   reason: "r", force: true, on: db)
                Issue.record("a forced override into an excluded municipality was accepted")
            } catch let error as PostgresError {
                #expect(error.sqlState == .checkViolation)
            }
            try await db.execute("UPDATE municipalities SET active = false WHERE code = '2460'")
            await #expect(throws: ReceptionError.self) {
                try await Allocations.override(caseReference: "MIG-2026-1001", to: "2460", period: 2026,
                                               reason: "r", force: true, on: db)
            }
            await #expect(throws: ReceptionError.notFound("no case with reference NOPE-1")) {
                try await Allocations.override(caseReference: "NOPE-1", to: "2480", period: 2026, reason: "r", force: false, on: db)
            }
        }
    }
}
