import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

@Suite("Municipalities, capacity and cases (database)")
struct RegistrationTests {
    @Test func addsListsAndDeactivatesMunicipalities() async throws {
        try await RegistrationTestDatabase.with { connection in
            let joins = CalendarDay(year: 2027, month: 1, day: 1)!
            let added = try await Municipalities.add(code: "2284", name: "Örnsköldsvik", joinsOn: joins,
                                                     languages: ["ar", "so"], on: connection)
            #expect(added.joinedOn == joins)
            #expect(added.active)
            #expect(added.languages == ["ar", "so"])
            await #expect(throws: ReceptionError.refused("municipality 2284 already exists")) {
                _ = try await Municipalities.add(code: "2284", name: "Örnsköldsvik", on: connection)
            }
            await #expect(throws: InvalidInput.self) {
                _ = try await Municipalities.add(code: "22x4", name: " ", on: connection)
            }

            let (deactivated, wasActive) = try await Municipalities.deactivate("2284", on: connection)
            #expect(wasActive)
            #expect(!deactivated.active)
            #expect(deactivated.deactivatedAt != nil)
            #expect(try await Municipalities.deactivate("2284", on: connection).wasActive == false)
            #expect(try await Municipalities.list(on: connection).map(\.code) == ["2284"])
            await #expect(throws: ReceptionError.notFound("no municipality with code 9999")) {
                _ = try await Municipalities.deactivate("9999", on: connection)
            }

            let actors = try await connection.query("""
                SELECT action, actor FROM audit_events WHERE municipality_code = '2284' ORDER BY id
                """).map { "\(try $0.decode("action", as: String.self)) by \(try $0.decode("actor", as: String.self))" }
            let login = try await TestDatabase.sessionUser(on: connection)
            #expect(actors == ["municipality.added by \(login)", "municipality.deactivated by \(login)"])
        }
    }

    @Test func setsAndShowsCapacity() async throws {
        try await RegistrationTestDatabase.with { connection in
            try await RegistrationTestDatabase.seed(on: connection)
            let lines = try await Capacity.set(municipality: "2480", period: 2026, quotas: [.init(dimension: "persons", quota: 120)],
                                               on: connection)
            let persons = try #require(lines.first { $0.dimension == "persons" })
            #expect(persons.quota == 120)
            #expect(persons.used == 0)
            #expect(persons.free == 120)
            #expect(lines.count == 7)  // the other dimensions keep their quotas
            #expect(try await Capacity.show(period: 2026, on: connection).count == 14)
            #expect(try await Capacity.show(period: 2027, on: connection).isEmpty)
            #expect(try await Capacity.show(period: 2026, municipality: "2460", on: connection).allSatisfy { $0.municipality == "2460" })

            await #expect(throws: InvalidInput.self) {
                try await Capacity.set(municipality: "2480", period: 2026, quotas: [.init(dimension: "dialysis", quota: 2)], on: connection)
            }
            try await Capacity.set(municipality: "2480", period: 2026, quotas: [.init(dimension: "dialysis", quota: 2)],
                                   registerNewDimensions: true, on: connection)
            await #expect(throws: ReceptionError.notFound("no municipality with code 9999")) {
                try await Capacity.set(municipality: "9999", period: 2026, quotas: [.init(dimension: "persons", quota: 1)], on: connection)
            }
            #expect(throws: InvalidInput.self) { try QuotaAssignment.parse(["persons=12", "dwellings", "x=-1"]) }
            #expect(try QuotaAssignment.parse(["persons=12", " dwellings = 4"]) == [.init(dimension: "persons", quota: 12), .init(dimension: "dwellings", quota: 4)])
        }
    }

    @Test func aQuotaBelowWhatIsAllocatedIsRefused() async throws {
        try await RegistrationTestDatabase.with { connection in
            try await RegistrationTestDatabase.seed(on: connection)
            try await CaseRegistration.register(NewCase(reference: "Q-1", ages: [30, 30, 30], arrivedOn: CalendarDay(year: 2026, month: 11, day: 1)!), on: connection)
            try await connection.execute("""
                INSERT INTO allocations (case_id, municipality_code, period, decision_reason)
                SELECT id, '2480', 2026, 'manual placement' FROM cases WHERE reference = 'Q-1'
                """)
            do {
                try await Capacity.set(municipality: "2480", period: 2026, quotas: [.init(dimension: "persons", quota: 2)], on: connection)
                Issue.record("a quota below the allocated units was accepted")
            } catch let ReceptionError.refused(message) {
                #expect(message.contains("cannot be lower than the 3 units allocated"))
            }
            let persons = try await Capacity.show(period: 2026, municipality: "2480", on: connection).first { $0.dimension == "persons" }
            #expect(persons?.quota == 10)
            #expect(persons?.used == 3)
            #expect(persons?.free == 7)
        }
    }

    @Test func addsShowsListsAndWithdrawsACase() async throws {
        try await RegistrationTestDatabase.with { connection in
            try await RegistrationTestDatabase.seed(on: connection)
            let rules = try await RegistrationTestDatabase.rules(on: connection)
            var problems: [ValidationProblem] = []
            let newCase = try #require(CaseTextFields(
                reference: "MIG-1", ages: "34,31,9,4", needs: "trauma_care,accessible_dwellings:1", language: "ar",
                occupations: "nurse", familyTies: "2480", preferences: "2480,2460", excluded: "2284", arrived: "2026-11-02"
            ).validate(at: .arguments, rules: rules, problems: &problems))
            try await CaseRegistration.register(newCase, options: .init(), on: connection)
            await #expect(throws: InvalidInput.self) {
                try await CaseRegistration.register(newCase, on: connection)
            }
            try await CaseRegistration.register(NewCase(reference: "MIG-0", ages: [50], arrivedOn: CalendarDay(year: 2026, month: 10, day: 1)!), on: connection)

            let record = try #require(try await Cases.find("MIG-1", on: connection))
            #expect(record.needs == ["trauma_care": 1, "accessible_dwellings": 1])
            #expect(record.waitingDays(on: CalendarDay(year: 2026, month: 11, day: 26)!) == 24)
            #expect(try await Cases.list(on: connection).map(\.reference) == ["MIG-0", "MIG-1"])  // longest waiting first
            #expect(try await Cases.list(.init(status: "registered"), on: connection).map(\.reference) == ["MIG-0", "MIG-1"])

            // Proposed in Umeå, then withdrawn: the proposal is cancelled and capacity released.
            try await connection.execute("""
                INSERT INTO allocations (case_id, municipality_code, period, decision_reason)
                VALUES (\(record.id), '2480', 2026, 'manual placement')
                """)
            #expect(try await Cases.list(.init(municipality: "2480"), on: connection).map(\.reference) == ["MIG-1"])
            #expect(try await Cases.find("MIG-1", on: connection)?.allocation?.municipality == "2480")
            let withdrawn = try await Cases.withdraw("MIG-1", reason: "moved abroad", on: connection)
            #expect(withdrawn.status == "withdrawn")
            #expect(withdrawn.withdrawnReason == "moved abroad")
            #expect(withdrawn.allocation == nil)
            #expect(try await Capacity.show(period: 2026, municipality: "2480", on: connection).allSatisfy { $0.used == 0 })
            #expect(try await Cases.list(.init(status: "withdrawn"), on: connection).map(\.reference) == ["MIG-1"])
            #expect(try await Cases.list(.init(status: "registered"), on: connection).map(\.reference) == ["MIG-0"])

            await #expect(throws: ReceptionError.refused("case MIG-1 is already withdrawn")) {
                _ = try await Cases.withdraw("MIG-1", reason: "again", on: connection)
            }
            await #expect(throws: ReceptionError.notFound("no case with reference NOPE-1")) {
                _ = try await Cases.withdraw("NOPE-1", reason: "x", on: connection)
            }
            await #expect(throws: ReceptionError.self) {
                _ = try await Cases.withdraw("MIG-0", reason: "  ", on: connection)
            }

            let history = try await Cases.history(caseID: record.id, on: connection)
            #expect(history.map(\.action) == ["case.registered", "allocation.overridden", "case.withdrawn", "allocation.cancelled"])
            let login = try await TestDatabase.sessionUser(on: connection)
            #expect(history.first?.actor == login)
            #expect(history.first { $0.action == "case.withdrawn" }?.actor == login)
            #expect(history.first { $0.action == "case.withdrawn" }?.details["reason"] == .string("moved abroad"))
        }
    }
}
