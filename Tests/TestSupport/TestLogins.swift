import Foundation
import Postgres

/// Real logins on the test server, one per Reception role (and one with none), so that the
/// security tests attack as a person or service with that login would: not by SET ROLE, which
/// keeps the administrator's session_user.
public struct TestLogins: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        case officer = "reception_officer"
        case worker = "reception_worker"
        case auditor = "reception_auditor"
        /// A login on the same cluster with no Reception role at all.
        case outsider = ""
    }

    /// The migrated test database's URL (as the administrator).
    public let adminURL: String
    private let names: [Role: String]

    public func login(_ role: Role) -> String { names[role]! }

    /// The connection string of `role`'s login for the test database.
    public func url(_ role: Role) -> String { TestDatabase.url(adminURL, user: login(role)) }

    public func connect(_ role: Role) async throws -> Connection {
        try await Connection.connect(url(role), applicationName: "reception-security-tests")
    }

    /// The outsider's login on a cluster whose administrator left CONNECT to everyone (as a
    /// default PostgreSQL does): it reaches the database, and the schema's grants must hold.
    public func connectOutsiderGivenConnect() async throws -> Connection {
        let admin = try await Connection.connect(adminURL, applicationName: "reception-tests")
        let login = try await admin.quoteIdentifier(login(.outsider))
        let database = try await admin.quoteIdentifier(try await admin.query("SELECT current_database() AS d")[0].decode("d", as: String.self))
        try await admin.executeScript("GRANT CONNECT ON DATABASE \(database) TO \(login)")
        return try await connect(.outsider)
    }

    /// Creates the four logins (cluster-wide, hence unique names), runs `body`, drops them.
    public static func with<T>(database url: String, _ body: (TestLogins) async throws -> T) async throws -> T {
        let admin = try await Connection.connect(try TestDatabase.serverURL(), applicationName: "reception-tests")
        let suffix = UUID().uuidString.prefix(8).lowercased()
        var names: [Role: String] = [:]
        for role in Role.allCases {
            let name = "t_\(role == .outsider ? "outsider" : String(role.rawValue.dropFirst("reception_".count)))_\(suffix)"
            let quoted = try await admin.quoteIdentifier(name)
            try await admin.executeScript(role == .outsider ? "CREATE ROLE \(quoted) LOGIN"
                                                            : "CREATE ROLE \(quoted) LOGIN IN ROLE \(role.rawValue)")
            names[role] = name
        }
        let logins = TestLogins(adminURL: url, names: names)
        // Best effort (a login whose session still holds a temporary table cannot be dropped
        // yet): the cluster is thrown away after the run anyway.
        func drop() async {
            for name in names.values {
                if let quoted = try? await admin.quoteIdentifier(name) {
                    _ = try? await admin.executeScript("DROP ROLE IF EXISTS \(quoted)")
                }
            }
        }
        do {
            let value = try await body(logins)
            await drop()
            return value
        } catch {
            await drop()
            throw error
        }
    }
}

extension TestDatabase {
    /// The same connection string with another user.
    public static func url(_ base: String, user: String) -> String {
        if base.contains("://") {
            return base + (base.contains("?") ? "&" : "?") + "user=" + user
        }
        return base + " user=" + user
    }
}
