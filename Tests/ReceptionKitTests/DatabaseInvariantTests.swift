import Postgres
import ReceptionKit
import Testing

/// The rules hold even when the application is bypassed: plain SQL, as psql or a buggy
/// client would send it.
@Suite("Database invariants (plain SQL)")
struct DatabaseInvariantTests {
    /// Inserts a manual allocation of `reference` to `municipality` in 2026, as plain SQL.
    func allocate(_ reference: String, to municipality: String, on connection: Connection) async throws {
        try await connection.execute("""
            INSERT INTO allocations (case_id, municipality_code, period, decision_reason)
            SELECT id, \(municipality), 2026, 'manual placement' FROM cases WHERE reference = \(reference)
            """)
    }

    func expectRefusal(_ state: SQLState, constraint: String?, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("allowed, but must be refused with \(state)")
        } catch let PostgresError.server(error) {
            #expect(error.sqlState == state)
            #expect(error.constraint == constraint)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    func registerAdults(_ reference: String, count: Int, on connection: Connection) async throws {
        try await CaseRegistration.register(NewCase(reference: reference, ages: Array(repeating: 30, count: count),
                                                    arrivedOn: CalendarDay(year: 2026, month: 11, day: 1)!), on: connection)
    }

    @Test func theDatabaseRefusesAnOverCapacityAllocation() async throws {
        try await RegistrationTestDatabase.with { connection in
            try await RegistrationTestDatabase.seed(on: connection)  // 10 persons in Umeå
            try await registerAdults("BIG-1", count: 6, on: connection)
            try await registerAdults("BIG-2", count: 5, on: connection)
            try await allocate("BIG-1", to: "2480", on: connection)
            await expectRefusal(.checkViolation, constraint: "capacity_used_within_quota") {
                try await allocate("BIG-2", to: "2480", on: connection)
            }
            // Nothing of the refused allocation remains.
            let persons = try await Capacity.show(period: 2026, municipality: "2480", on: connection).first { $0.dimension == "persons" }
            #expect(persons?.used == 6)
            #expect(try await connection.query("SELECT status FROM cases WHERE reference = 'BIG-2'")[0].decode("status", as: String.self) == "registered")
            // A direct write of `used` is refused too.
            await expectRefusal(.raiseException, constraint: nil) {
                try await connection.execute("UPDATE capacity SET used = 0 WHERE municipality_code = '2480'")
            }
        }
    }

    @Test func aWithdrawnCaseIsNeverPlaced() async throws {
        try await RegistrationTestDatabase.with { connection in
            try await RegistrationTestDatabase.seed(on: connection)
            try await registerAdults("W-1", count: 2, on: connection)
            _ = try await Cases.withdraw("W-1", reason: "moved abroad", on: connection)
            await expectRefusal(.checkViolation, constraint: "allocations_case_not_withdrawn") {
                try await allocate("W-1", to: "2480", on: connection)
            }
            #expect(try await Capacity.show(period: 2026, on: connection).allSatisfy { $0.used == 0 })
        }
    }

    @Test func aDeactivatedMunicipalityReceivesNothing() async throws {
        try await RegistrationTestDatabase.with { connection in
            try await RegistrationTestDatabase.seed(on: connection)
            try await registerAdults("D-1", count: 2, on: connection)
            try await registerAdults("D-2", count: 2, on: connection)
            try await allocate("D-1", to: "2460", on: connection)  // a proposal there before deactivation
            _ = try await Municipalities.deactivate("2460", on: connection)
            await expectRefusal(.checkViolation, constraint: "allocations_municipality_active") {
                try await allocate("D-2", to: "2460", on: connection)
            }
            // Its open proposal was cancelled and the household is pending again.
            #expect(try await Cases.find("D-1", on: connection)?.status == "registered")
            #expect(try await Capacity.show(period: 2026, municipality: "2460", on: connection).allSatisfy { $0.used == 0 })
            // Elsewhere is fine.
            try await allocate("D-2", to: "2480", on: connection)
        }
    }
}
