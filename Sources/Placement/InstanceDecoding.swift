import Foundation

extension PlacementInstance {
    /// Decodes and validates a `placement-instance/1` JSON document.
    ///
    /// Every error names the JSON path of the offending value, e.g.
    /// `cases[17].members[2].age: -3 is not an age (0 to 120)`. Unknown keys are ignored; absent
    /// optional keys take their FORMAT.md defaults (weights 0, capacities 0, lists empty). A key
    /// given twice in one object is refused.
    public static func decode(from data: Data) throws(InstanceError) -> PlacementInstance {
        if let path = DuplicateKeys.first(in: data) {
            throw InstanceError(path: path, message: "is given twice; a key may appear once in an object")
        }
        let instance: PlacementInstance
        do {
            instance = try JSONDecoder().decode(InstanceDocument.self, from: data).instance
        } catch let error as InstanceError {
            throw error
        } catch let error as DecodingError {
            throw InstanceError(decoding: error)
        } catch {
            throw InstanceError(path: "", message: "not valid JSON")
        }
        try instance.validate()
        return instance
    }
}

/// A coding key for any name or index, so that paths and unknown keys are under our control.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ name: String) { stringValue = name; intValue = nil }
    init?(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    init?(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
}

/// `cases[17].members[2].age` from a coding path: array positions (keys with an integer value)
/// become `[i]`, object keys are joined with dots.
func jsonPath(_ codingPath: [any CodingKey]) -> String {
    var out = ""
    for key in codingPath {
        if let index = key.intValue {
            out += "[\(index)]"
        } else {
            out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
        }
    }
    return out
}

extension InstanceError {
    init(decoding error: DecodingError) {
        switch error {
        case .typeMismatch(let type, let context):
            let path = jsonPath(context.codingPath)
            self.init(path: path, message: path.isEmpty ? "the document must be a JSON object" : "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            self.init(path: jsonPath(context.codingPath), message: "is null, expected \(describe(type))")
        case .keyNotFound(let key, let context):
            self.init(path: jsonPath(context.codingPath + [AnyKey(key.stringValue)]), message: "is missing")
        case .dataCorrupted(let context):
            let path = jsonPath(context.codingPath)
            if path.isEmpty {
                var detail = ""
                if let underlying = context.underlyingError as NSError?,
                   let text = underlying.userInfo[NSDebugDescriptionErrorKey] as? String {
                    detail = ": \(text)"
                }
                self.init(path: "", message: "not valid JSON\(detail)")
            } else {
                self.init(path: path, message: "invalid value")
            }
        @unknown default:
            self.init(path: "", message: "not a valid instance")
        }
    }
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Int.Type, is Double.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is [Any].Type: return "an array"
    default:
        let name = "\(type)"
        if name.hasPrefix("Array") || name.contains("Unkeyed") { return "an array" }
        return "an object"
    }
}

// MARK: - Readers that know their JSON path

extension KeyedDecodingContainer where Key == AnyKey {
    func path(_ name: String) -> String { jsonPath(codingPath + [AnyKey(name)]) }

    /// What kind of JSON value sits at `key`, for error messages.
    func kind(_ key: AnyKey) -> String {
        if (try? decodeNil(forKey: key)) == true { return "null" }
        if (try? decode(Bool.self, forKey: key)) != nil { return "true/false" }
        if (try? decode(Double.self, forKey: key)) != nil { return "a number" }
        if (try? decode(String.self, forKey: key)) != nil { return "a string" }
        if (try? nestedUnkeyedContainer(forKey: key)) != nil { return "an array" }
        return "an object"
    }

    func string(_ name: String, required: Bool = false) throws -> String? {
        let key = AnyKey(name)
        guard contains(key) else {
            if required { throw InstanceError(path: path(name), message: "is missing") }
            return nil
        }
        if let value = try? decode(String.self, forKey: key) { return value }
        if !required, (try? decodeNil(forKey: key)) == true { return nil }
        throw InstanceError(path: path(name), message: "expected a string, found \(kind(key))")
    }

    func whole(_ name: String) throws -> Int? {
        let key = AnyKey(name)
        guard contains(key) else { return nil }
        if let value = try? decode(Int.self, forKey: key) { return try refusingIntMin(value, name) }
        if let value = try? decode(Double.self, forKey: key) {
            // 1e2 is a whole number too; 1e20 is one no Int holds, and 1e400 reads as infinity.
            if let exact = Int(exactly: value) { return try refusingIntMin(exact, name) }
            if !value.isFinite || value.rounded() == value {
                throw InstanceError(path: path(name), message: "is out of range")
            }
            throw InstanceError(path: path(name), message: "\(value) is not a whole number")
        }
        throw InstanceError(path: path(name), message: "expected a whole number, found \(kind(key))")
    }

    /// Int.min is the one Int whose magnitude no Int holds: `abs` of it traps. No limit of the
    /// format comes near it, so it is refused here, before validation takes its magnitude.
    private func refusingIntMin(_ value: Int, _ name: String) throws -> Int {
        guard value != Int.min else { throw InstanceError(path: path(name), message: "is out of range") }
        return value
    }

    func strings(_ name: String) throws -> [String] {
        let key = AnyKey(name)
        guard contains(key) else { return [] }
        if (try? decodeNil(forKey: key)) == true { return [] }
        guard var list = try? nestedUnkeyedContainer(forKey: key) else {
            throw InstanceError(path: path(name), message: "expected an array of strings, found \(kind(key))")
        }
        var out: [String] = []
        while !list.isAtEnd {
            let index = list.currentIndex
            guard let value = try? list.decode(String.self) else {
                throw InstanceError(path: "\(path(name))[\(index)]", message: "expected a string")
            }
            out.append(value)
        }
        return out
    }

    func wholeMap(_ name: String) throws -> [String: Int] {
        let key = AnyKey(name)
        guard contains(key) else { return [:] }
        if (try? decodeNil(forKey: key)) == true { return [:] }
        guard let map = try? nestedContainer(keyedBy: AnyKey.self, forKey: key) else {
            throw InstanceError(path: path(name), message: "expected an object of whole numbers, found \(kind(key))")
        }
        var out: [String: Int] = [:]
        for k in map.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            out[k.stringValue] = try map.whole(k.stringValue)
        }
        return out
    }

    /// Calls `body` with a keyed container for each object of the array at `name`.
    func objects<T>(_ name: String, required: Bool, _ body: (KeyedDecodingContainer<AnyKey>, Int) throws -> T) throws -> [T] {
        let key = AnyKey(name)
        guard contains(key) else {
            if required { throw InstanceError(path: path(name), message: "is missing") }
            return []
        }
        guard var list = try? nestedUnkeyedContainer(forKey: key) else {
            throw InstanceError(path: path(name), message: "expected an array, found \(kind(key))")
        }
        var out: [T] = []
        if let count = list.count { out.reserveCapacity(count) }
        while !list.isAtEnd {
            let index = list.currentIndex
            guard let object = try? list.nestedContainer(keyedBy: AnyKey.self) else {
                throw InstanceError(path: "\(path(name))[\(index)]", message: "expected an object")
            }
            out.append(try body(object, index))
        }
        return out
    }
}

/// The top-level document; decoding builds the public value directly.
private struct InstanceDocument: Decodable {
    var instance: PlacementInstance

    init(from decoder: any Decoder) throws {
        let root: KeyedDecodingContainer<AnyKey>
        do {
            root = try decoder.container(keyedBy: AnyKey.self)
        } catch {
            throw InstanceError(path: "", message: "the document must be a JSON object")
        }
        if let format = try root.string("format"), format != PlacementInstance.formatName {
            throw InstanceError(path: "format", message: "\(quoted(format)) is not \(quoted(PlacementInstance.formatName))")
        }
        var weights = PlacementInstance.Weights()
        if root.contains(AnyKey("weights")), (try? root.decodeNil(forKey: AnyKey("weights"))) != true {
            guard let w = try? root.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("weights")) else {
                throw InstanceError(path: "weights", message: "expected an object, found \(root.kind(AnyKey("weights")))")
            }
            weights.placed = try w.whole("placed") ?? 0
            weights.placedPerson = try w.whole("placed_person") ?? 0
            weights.waitingDay = try w.whole("waiting_day") ?? 0
            weights.familyTies = try w.whole("family_ties") ?? 0
            weights.language = try w.whole("language") ?? 0
            weights.occupation = try w.whole("occupation") ?? 0
            weights.preference = try w.whole("preference") ?? 0
        }
        let municipalities = try root.objects("municipalities", required: true) { m, _ in
            let code = try m.string("code", required: true)!
            return PlacementInstance.Municipality(
                code: code,
                name: try m.string("name"),
                capacity: try m.wholeMap("capacity"),
                languages: try m.strings("languages"),
                shortageOccupations: try m.strings("shortage_occupations"))
        }
        let cases = try root.objects("cases", required: true) { c, _ in try Self.household(c) }
        // Absent or null: no look-ahead.
        let forecast = (try? root.decodeNil(forKey: AnyKey("forecast"))) == true
            ? [] : try root.objects("forecast", required: false) { c, _ in try Self.household(c) }
        instance = PlacementInstance(weights: weights, municipalities: municipalities, cases: cases, forecast: forecast)
    }

    /// One household of `cases` or `forecast`.
    private static func household(_ c: KeyedDecodingContainer<AnyKey>) throws -> PlacementInstance.Case {
        let id = try c.string("id", required: true)!
        let members = try c.objects("members", required: true) { member, _ in
            guard let age = try member.whole("age") else {
                throw InstanceError(path: member.path("age"), message: "is missing")
            }
            return PlacementInstance.Member(age: age)
        }
        return PlacementInstance.Case(
            id: id, members: members,
            needs: try c.wholeMap("needs"),
            language: try c.string("language"),
            occupations: try c.strings("occupations"),
            familyTies: try c.strings("family_ties"),
            preferences: try c.strings("preferences"),
            excluded: try c.strings("excluded"),
            waitingDays: try c.whole("waiting_days") ?? 0)
    }
}

// MARK: - Keys given twice

/// Finds the first key given twice in one object, as a JSON path (`cases[3].excluded`).
///
/// Foundation's JSONDecoder keeps one of the two values and says nothing, so
/// `"excluded": ["2284"], "excluded": []` would lose an exclusion. This scan runs before it and
/// understands only the structure (objects, arrays, strings); on bytes that are not JSON it
/// stops without a finding and leaves the decoder to report the syntax error.
enum DuplicateKeys {
    private enum Frame {
        /// An object: its keys so far, the current one, and whether a key comes next.
        case object(keys: Set<String>, current: String?, expectingKey: Bool)
        /// An array: the position of the current element.
        case array(index: Int)
    }

    static func first(in data: Data) -> String? {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in first(in: raw.bindMemory(to: UInt8.self)) }
    }

    static func first(in bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var stack: [Frame] = []
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "{"):
                stack.append(.object(keys: [], current: nil, expectingKey: true))
                index += 1
            case UInt8(ascii: "["):
                stack.append(.array(index: 0))
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard stack.popLast() != nil else { return nil }
                index += 1
            case UInt8(ascii: ","):
                switch stack.last {
                case .array(let position)?: stack[stack.count - 1] = .array(index: position + 1)
                case .object(let keys, let current, _)?: stack[stack.count - 1] = .object(keys: keys, current: current, expectingKey: true)
                case nil: return nil
                }
                index += 1
            case UInt8(ascii: "\""):
                guard case .object(var keys, _, true)? = stack.last else {
                    guard let end = stringEnd(bytes, from: index) else { return nil }
                    index = end
                    continue
                }
                guard case let (key, end)? = string(bytes, from: index) else { return nil }
                index = end
                // Free the set's storage from the stack while it grows, so it is not copied.
                stack[stack.count - 1] = .array(index: 0)
                if !keys.insert(key).inserted {
                    return path(stack.dropLast()) + (stack.count > 1 ? "." : "") + key
                }
                stack[stack.count - 1] = .object(keys: keys, current: key, expectingKey: false)
            default:
                // White space, a colon, a number, true, false, null.
                index += 1
            }
        }
        return nil
    }

    /// The path of the enclosing objects and arrays, as `jsonPath` writes it.
    private static func path(_ frames: ArraySlice<Frame>) -> String {
        var out = ""
        for frame in frames {
            switch frame {
            case .array(let position): out += "[\(position)]"
            case .object(_, let current, _): out += out.isEmpty ? (current ?? "") : ".\(current ?? "")"
            }
        }
        return out
    }

    /// Where the string opening at `start` ends (after its closing quote), skipping escapes.
    private static func stringEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index + 1
            default: index += 1
            }
        }
        return nil
    }

    /// The string opening at `start`, its escapes decoded (so that "a" and "\u0061" are the
    /// same key, as they are to the decoder), and where it ends.
    private static func string(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> (String, Int)? {
        guard let end = stringEnd(bytes, from: start) else { return nil }
        let body = UnsafeBufferPointer(rebasing: bytes[(start + 1)..<(end - 1)])
        guard body.contains(UInt8(ascii: "\\")) else { return (String(decoding: body, as: UTF8.self), end) }
        var utf8: [UInt8] = []
        var index = 0
        func hex4(at position: Int) -> UInt32? {
            guard position + 4 <= body.count else { return nil }
            var value: UInt32 = 0
            for byte in body[position..<position + 4] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value * 16 + UInt32(digit)
            }
            return value
        }
        while index < body.count {
            let byte = body[index]
            guard byte == UInt8(ascii: "\\") else { utf8.append(byte); index += 1; continue }
            guard index + 1 < body.count else { return nil }
            let escape = body[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(at: index) else { return nil }
                index += 4
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= body.count,
                   body[index] == UInt8(ascii: "\\"), body[index + 1] == UInt8(ascii: "u"),
                   let low = hex4(at: index + 2), (0xDC00..<0xE000).contains(low) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                // A lone surrogate: the decoder will refuse it; any stand-in will do here.
                utf8.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
            default: utf8.append(escape)  // \" \\ \/
            }
        }
        return (String(decoding: utf8, as: UTF8.self), end)
    }
}
