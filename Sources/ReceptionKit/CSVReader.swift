/// A small, strict CSV reader (RFC 4180): fields separated by commas, records by LF or CRLF,
/// quoted fields with doubled quotes and line breaks inside, an optional UTF-8 byte-order mark.
///
/// Lines are physical lines of the file, as an editor shows them, so that an error report can
/// send the officer to the right place even after a quoted field that spans several lines.
public enum CSVReader {
    public struct Record: Sendable, Equatable {
        /// The physical line the record starts on, counting from 1.
        public let line: Int
        public let fields: [String]
    }

    public struct Problem: Sendable, Equatable {
        public let line: Int
        /// The field's position in its record, counting from 1.
        public let column: Int
        public let reason: String
    }

    public struct Document: Sendable {
        /// The well-formed records, blank lines left out.
        public var records: [Record] = []
        /// Records that are not well-formed are reported here and left out of `records`.
        public var problems: [Problem] = []
    }

    public static func read(_ input: [UInt8]) -> Document {
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var document = Document()
        let count = input.count
        var index = input.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var recordLine = 1
        var fields: [String] = []
        var broken = false
        var buffer: [UInt8] = []

        func text<C: Collection<UInt8>>(_ bytes: C) -> String {
            if let valid = String(validating: bytes, as: UTF8.self) { return valid }
            document.problems.append(Problem(line: recordLine, column: fields.count + 1,
                                             reason: "is not UTF-8 text (save the file as UTF-8)"))
            broken = true
            return ""
        }
        func isFieldEnd(_ byte: UInt8) -> Bool { byte == comma || byte == lf || byte == cr }

        while true {
            if index < count && input[index] == quote {
                let startLine = line
                index += 1
                buffer.removeAll(keepingCapacity: true)
                var closed = false
                while index < count {
                    let byte = input[index]
                    if byte == quote {
                        if index + 1 < count && input[index + 1] == quote {
                            buffer.append(quote)
                            index += 2
                            continue
                        }
                        index += 1
                        closed = true
                        break
                    }
                    if byte == lf || (byte == cr && !(index + 1 < count && input[index + 1] == lf)) { line += 1 }
                    buffer.append(byte)
                    index += 1
                }
                guard closed else {
                    // Everything after it is inside the quote: nothing more can be trusted.
                    document.problems.append(Problem(line: startLine, column: fields.count + 1,
                                                     reason: "a quoted field is never closed"))
                    return document
                }
                fields.append(text(buffer))
                if index < count && !isFieldEnd(input[index]) {
                    document.problems.append(Problem(line: line, column: fields.count,
                                                     reason: "text after a closing quote (double a quote inside a quoted field: \"\")"))
                    broken = true
                    while index < count && !isFieldEnd(input[index]) { index += 1 }
                }
            } else {
                let start = index
                var strayQuote = false
                while index < count && !isFieldEnd(input[index]) {
                    if input[index] == quote { strayQuote = true }
                    index += 1
                }
                if strayQuote {
                    document.problems.append(Problem(line: line, column: fields.count + 1,
                                                     reason: "a quote inside an unquoted field (quote the whole field and double the quote: \"a \"\"b\"\"\")"))
                    broken = true
                }
                fields.append(text(input[start..<index]))
            }

            if index < count && input[index] == comma {
                index += 1
                continue
            }
            // The end of a record: a line break or the end of the input.
            let atEnd = index >= count
            if !atEnd {
                if input[index] == cr && index + 1 < count && input[index + 1] == lf { index += 2 } else { index += 1 }
            }
            let blank = fields.count == 1 && fields[0].isEmpty
            if !broken && !blank { document.records.append(Record(line: recordLine, fields: fields)) }
            fields.removeAll(keepingCapacity: true)
            broken = false
            if atEnd { return document }
            line += 1
            recordLine = line
        }
    }
}
