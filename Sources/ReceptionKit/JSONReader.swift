/// A small, strict JSON parser (RFC 8259) into `JSONTree`, with syntax errors reported as the
/// line and column an editor shows.
///
/// Why not Foundation: on Linux both JSONDecoder and JSONSerialization take seconds for a
/// 100,000-case import file, and neither says where a syntax error is. This reads bytes once.
public enum JSONReader {
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let column: Int
        public let reason: String
        /// Where in the document the reader was, outermost first: `[3].members[1]`.
        public internal(set) var path: [PathComponent] = []
        /// The key, when the error is a key given twice in one object. Not a syntax error to
        /// every reader, but refused here: keeping either value would silently drop the other,
        /// and `"excluded": ["2460"], "excluded": []` would drop an exclusion.
        public internal(set) var duplicateKey: String?

        init(line: Int, column: Int, reason: String) {
            self.line = line
            self.column = column
            self.reason = reason
        }

        /// Syntax errors are found by line and column, as an editor shows them; a key given twice
        /// also by its path, as one line may hold many objects.
        public var description: String {
            let place = "at line \(line), column \(column)"
            return duplicateKey == nil ? "\(reason) \(place)" : "\(JSONReader.text(path)): \(reason) \(place)"
        }

        /// The same error, one level further out in the document.
        func inside(_ component: PathComponent) -> SyntaxError {
            var outer = self
            outer.path.insert(component, at: 0)
            return outer
        }
    }

    /// One step of a path into a document: a key of an object, or a position in an array.
    public enum PathComponent: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    /// `[3].members[1].age`, the way problem reports write paths: keys joined by dots, positions
    /// in brackets.
    public static func text(_ path: some Sequence<PathComponent>) -> String {
        var text = ""
        for component in path {
            switch component {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }

    public static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONTree {
        var parser = Parser(bytes: bytes)
        parser.skipByteOrderMark()
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        static let maxDepth = 256

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipByteOrderMark() {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        /// The error at the current position, counting lines and columns (in characters) only now.
        func error(_ reason: String, at position: Int? = nil) -> SyntaxError {
            let end = min(position ?? index, bytes.count)
            var line = 1, column = 1
            for byte in bytes[..<end] {
                if byte == 0x0A { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
            }
            return SyntaxError(line: line, column: column, reason: reason)
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONTree {
            guard depth < Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
            guard index < bytes.count else { throw error("unexpected end of the file") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(SyntaxError) {
            let length = word.utf8CodeUnitCount
            let matches = index + length <= bytes.count && word.withUTF8Buffer { expected in
                bytes[index..<index + length].elementsEqual(expected)
            }
            guard matches else { throw error("unexpected character") }
            index += length
        }

        mutating func object(depth: Int) throws(SyntaxError) -> JSONTree {
            index += 1
            var members: [String: JSONTree] = [:]
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key in double quotes") }
                let keyStart = index
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected : after a key") }
                index += 1
                skipWhitespace()
                let member: JSONTree
                do throws(SyntaxError) {
                    member = try value(depth: depth + 1)
                } catch {
                    throw error.inside(.key(key))
                }
                // One hash lookup for the common case; the error is rare.
                if members.updateValue(member, forKey: key) != nil {
                    var duplicate = self.error("the key is given twice in one object", at: keyStart)
                    duplicate.duplicateKey = key
                    throw duplicate.inside(.key(key))
                }
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of the file in an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw error("expected , or } in an object")
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> JSONTree {
            index += 1
            var elements: [JSONTree] = []
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            while true {
                skipWhitespace()
                do throws(SyntaxError) {
                    elements.append(try value(depth: depth + 1))
                } catch {
                    throw error.inside(.index(elements.count))
                }
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of the file in an array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                throw error("expected , or ] in an array")
            }
        }

        mutating func string() throws(SyntaxError) -> String {
            let start = index
            index += 1
            // The common case: no escapes, so the bytes are the string.
            var plainEnd = index
            while plainEnd < bytes.count, bytes[plainEnd] != UInt8(ascii: "\""), bytes[plainEnd] != UInt8(ascii: "\\"),
                  bytes[plainEnd] >= 0x20 {
                plainEnd += 1
            }
            var buffer = Array(bytes[index..<plainEnd])
            index = plainEnd
            while true {
                guard index < bytes.count else { throw error("a string is never closed", at: start) }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") { index += 1; break }
                if byte < 0x20 { throw error("a control character (such as a line break) inside a string") }
                if byte != UInt8(ascii: "\\") { buffer.append(byte); index += 1; continue }
                index += 1
                guard index < bytes.count else { throw error("a string is never closed", at: start) }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A surrogate pair: \uD83D\uDE00.
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("an unpaired surrogate in a \\u escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("an unpaired surrogate in a \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw error("an invalid \\u escape") }
                    buffer.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw error("an invalid escape \\\(Character(Unicode.Scalar(escape)))", at: index - 2)
                }
            }
            guard let text = String(validating: buffer, as: UTF8.self) else {
                throw error("a string that is not UTF-8 text", at: start)
            }
            return text
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("an incomplete \\u escape") }
            var value: UInt32 = 0
            for byte in bytes[index..<index + 4] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("an invalid \\u escape")
                }
                value = value * 16 + UInt32(digit)
            }
            index += 4
            return value
        }

        mutating func number() throws(SyntaxError) -> JSONTree {
            let start = index
            func digits() -> Int {
                let from = index
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
                return index - from
            }
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            let integerStart = index
            guard digits() > 0 else { throw error("a number without digits") }
            if bytes[integerStart] == UInt8(ascii: "0") && index - integerStart > 1 {
                throw error("a number with a leading zero", at: integerStart)
            }
            var isInteger = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                isInteger = false
                guard digits() > 0 else { throw error("a number without digits after the point") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                isInteger = false
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw error("a number without digits in its exponent") }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if isInteger, let integer = Int(text) { return .integer(integer) }
            guard let double = Double(text) else { throw error("a number out of range", at: start) }
            // 1e2 and 2.0 are whole numbers too, as JSON does not distinguish them.
            if let whole = Int(exactly: double) { return .integer(whole) }
            return .number(double)
        }
    }
}
