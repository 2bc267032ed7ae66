import CLibPQ

/// Rows for `COPY ... FROM STDIN`, encoded in PostgreSQL's text COPY format as they are added.
public struct CopyRows: Sendable {
    private(set) var bytes: [UInt8] = []
    public private(set) var count = 0

    public init(reservingBytes capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Adds one row; nil is SQL NULL. The values must match the columns named to `copy`.
    public mutating func append(_ values: [(any PostgresEncodable)?]) {
        for (position, value) in values.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: "\t")) }
            guard let value else {
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
                continue
            }
            for byte in value.postgresText.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\n"))
        count += 1
    }
}

extension Connection {
    /// Bulk-loads rows with `COPY table (columns) FROM STDIN`, in one round trip's worth of
    /// data. Returns the number of rows copied. Inside a transaction, a failure leaves nothing.
    @discardableResult
    public func copy(into table: String, columns: [String], rows: CopyRows) async throws -> Int {
        var names: [String] = []
        for column in columns { names.append(try await quoteIdentifier(column)) }
        let statement = "COPY \(try await quoteIdentifier(table)) (\(names.joined(separator: ", "))) FROM STDIN"
        let data = rows.bytes
        return try await onConnectionQueue { connection in
            guard let start = PQexec(connection, statement) else {
                if PQstatus(connection) != CONNECTION_OK { throw PostgresError.connectionLost }
                throw PostgresError.protocolViolation(Connection.errorMessage(connection))
            }
            guard PQresultStatus(start) == PGRES_COPY_IN else {
                _ = try Connection.consume(start, on: connection)
                throw PostgresError.protocolViolation("COPY did not start")
            }
            PQclear(start)
            let chunk = 1 << 20
            var failure: String?
            data.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    let length = min(chunk, buffer.count - offset)
                    let sent = buffer.baseAddress!.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: length) {
                        PQputCopyData(connection, $0, Int32(length))
                    }
                    if sent != 1 { failure = Connection.errorMessage(connection); return }
                    offset += length
                }
            }
            if PQputCopyEnd(connection, failure) != 1 && PQstatus(connection) != CONNECTION_OK {
                throw PostgresError.connectionLost
            }
            // Drain every result, as libpq requires after COPY.
            var outcome: Result<QueryResult, any Error>?
            while let result = PQgetResult(connection) {
                let consumed = Result { try Connection.consume(result, on: connection) }
                if outcome == nil { outcome = consumed }
            }
            guard let outcome else {
                if PQstatus(connection) != CONNECTION_OK { throw PostgresError.connectionLost }
                throw PostgresError.protocolViolation("COPY ended without a result")
            }
            return try outcome.get().affectedRows
        }
    }
}
