import Foundation
import Postgres

/// Writing validated cases: one for `case add`, a hundred thousand for an import, the same
/// way. All in one transaction, so a failure anywhere leaves nothing behind.
///
/// Cases go in with COPY (the `cases` table has only statement-level triggers on INSERT, so
/// the audit events are one set-based statement per COPY), their needs through a temporary
/// staging table joined on reference, which spares reading a hundred thousand ids back.
public enum CaseRegistration {
    public struct Options: Sendable {
        /// Leave out cases whose reference is already registered instead of refusing the file.
        public var skipExisting: Bool
        /// Register need names that are not yet dimensions (else they are validation errors).
        public var registerNewNeeds: Bool
        /// Rows per COPY statement; progress is reported after each.
        public var chunkSize: Int

        public init(skipExisting: Bool = false, registerNewNeeds: Bool = false, chunkSize: Int = 20_000) {
            self.skipExisting = skipExisting
            self.registerNewNeeds = registerNewNeeds
            self.chunkSize = chunkSize
        }
    }

    public struct Report: Sendable, Encodable {
        /// How many cases were registered.
        public var registered: Int
        /// References already registered and left out (with `skipExisting`), as given.
        public var skipped: [String]
        /// Need names added to the dimensions table; no municipality has capacity for them yet.
        public var newDimensions: [String]
    }

    /// Registers `entries` or nothing. Throws `InvalidInput` naming each reference that is
    /// already registered (unless `skipExisting`), with its line or path.
    @discardableResult
    public static func register(
        _ entries: [CaseImport.Entry],
        options: Options = Options(),
        on connection: Connection,
        progress: (@Sendable (_ written: Int, _ total: Int) -> Void)? = nil
    ) async throws -> Report {
        try await connection.withTransaction { connection in

            // References that exist already. Locking is not needed: the unique constraint
            // catches one registered meanwhile, and the whole transaction then fails.
            let existing = try await registeredReferences(entries.map(\.newCase.reference), on: connection)
            var toWrite = entries
            var skipped: [String] = []
            if !existing.isEmpty {
                if options.skipExisting {
                    toWrite = entries.filter { !existing.contains($0.newCase.reference) }
                    skipped = entries.map(\.newCase.reference).filter(existing.contains)
                } else {
                    throw InvalidInput(alreadyRegistered(entries, existing: existing))
                }
            }

            var newDimensions: [String] = []
            let needNames = Set(toWrite.flatMap { $0.newCase.needs.map(\.dimension) })
            if !needNames.isEmpty {
                let known = Set(try await connection.query(
                    "SELECT name FROM dimensions WHERE name = ANY(\(Array(needNames)))"
                ).map { try $0.decode("name", as: String.self) })
                let unknown = needNames.subtracting(known).sorted()
                if !unknown.isEmpty {
                    guard options.registerNewNeeds else {
                        throw ReceptionError.invalid("unknown needs \(unknown.joined(separator: ", ")); --new-needs registers them")
                    }
                    try await connection.execute("""
                        INSERT INTO dimensions (name, description)
                        SELECT name, 'need: registered with a case' FROM unnest(\(unknown)) AS name
                        ON CONFLICT (name) DO NOTHING
                        """)
                    newDimensions = unknown
                }
            }

            let total = toWrite.count
            var written = 0
            progress?(0, total)
            while written < total {
                let chunk = toWrite[written..<min(written + max(1, options.chunkSize), total)]
                var rows = CopyRows(reservingBytes: chunk.count * 96)
                for entry in chunk {
                    let item = entry.newCase
                    rows.append([item.reference, arrayText(item.ages.map(String.init)), item.language,
                                 arrayText(item.occupations), arrayText(item.familyTies), arrayText(item.preferences),
                                 arrayText(item.excluded), item.arrivedOn.description, item.anvisningOn.description,
                                 item.latestReceptionOn?.description, item.category.rawValue])
                }
                try await connection.copy(into: "cases", columns: [
                    "reference", "ages", "language", "occupations", "family_ties", "preferences", "excluded", "arrived_on",
                    "anvisning_on", "latest_reception_given", "category",
                ], rows: rows)
                written += chunk.count
                progress?(written, total)
            }

            var needs = CopyRows()
            for entry in toWrite {
                for need in entry.newCase.needs { needs.append([entry.newCase.reference, need.dimension, need.units]) }
            }
            if needs.count > 0 {
                try await connection.execute("DROP TABLE IF EXISTS pg_temp.reception_import_needs")
                try await connection.execute("""
                    CREATE TEMP TABLE reception_import_needs (reference text NOT NULL, dimension text NOT NULL, units int NOT NULL)
                    ON COMMIT DROP
                    """)
                try await connection.copy(into: "reception_import_needs", columns: ["reference", "dimension", "units"], rows: needs)
                try await connection.execute("""
                    INSERT INTO case_needs (case_id, dimension, units)
                    SELECT c.id, s.dimension, s.units
                    FROM reception_import_needs s JOIN cases c ON c.reference = s.reference
                    """)
            }
            return Report(registered: total, skipped: skipped, newDimensions: newDimensions)
        }
    }

    /// An array literal, `{"a","b"}`, for COPY's text format. The elements are validated
    /// numbers and codes (no quotes, backslashes or braces), so quoting each is enough, and
    /// it keeps an occupation called `null` from reading as NULL. Built here because the
    /// generic array encoding instantiates a key path per value: ~20 µs a row, most of a
    /// 100,000-row import's client time.
    static func arrayText(_ elements: [String]) -> String {
        var text = "{"
        for (position, element) in elements.enumerated() {
            if position > 0 { text += "," }
            text += "\"" + element + "\""
        }
        return text + "}"
    }

    /// A problem for each entry whose reference is registered already, to report them with
    /// the file's other problems before trying to write.
    public static func alreadyRegistered(_ entries: [CaseImport.Entry], on connection: Connection) async throws -> [ValidationProblem] {
        alreadyRegistered(entries, existing: try await registeredReferences(entries.map(\.newCase.reference), on: connection))
    }

    static func alreadyRegistered(_ entries: [CaseImport.Entry], existing: Set<String>) -> [ValidationProblem] {
        entries.filter { existing.contains($0.newCase.reference) }.map {
            let hint = $0.location == .arguments ? "" : " (--skip-existing leaves such cases out)"
            return ValidationProblem($0.location, field: CaseImport.referenceField($0.location),
                                     reason: "case \($0.newCase.reference) is already registered" + hint)
        }
    }

    /// The given references that are registered already, as given. References compare
    /// case-insensitively (the database's cases_reference_normalized): MIG-2026-1 and
    /// mig-2026-1 are one dossier.
    static func registeredReferences(_ references: [String], on connection: Connection) async throws -> Set<String> {
        guard !references.isEmpty else { return [] }
        let keys = Set(try await connection.query("""
            SELECT upper(btrim(reference)) AS key FROM cases
            WHERE upper(btrim(reference)) = ANY(\(references.map(CaseReference.key)))
            """).map { try $0.decode("key", as: String.self) })
        return Set(references.filter { keys.contains(CaseReference.key($0)) })
    }

    /// Registers one case (`case add`).
    @discardableResult
    public static func register(_ newCase: NewCase, options: Options = Options(), on connection: Connection) async throws -> Report {
        try await register([CaseImport.Entry(location: .arguments, newCase: newCase)], options: options, on: connection)
    }
}
