import Foundation

/// The solver's answer (FORMAT.md, `placement-result/1`).
public struct PlacementResult: Sendable, Equatable {
    /// The value of the `format` key.
    public static let formatName = "placement-result/1"

    /// One placed case.
    public struct Assignment: Sendable, Equatable {
        /// The case id (JSON `case`).
        public var caseID: String
        /// The municipality code.
        public var municipality: String
        /// The score of this placement (FORMAT.md "Score").
        public var score: Int
        /// Why here, for the officer who signs: e.g. "family ties in Umeå (2480)".
        public var reasons: [String]
        /// The best other municipality the household could have gone to (JSON `next_best`), if any.
        public var nextBest: NextBest?
    }

    /// The runner-up for an assignment.
    public struct NextBest: Sendable, Equatable {
        public var municipality: String
        public var name: String
        /// Its score for this case.
        public var score: Int
        /// Assigned score minus this score (JSON `score_difference`); negative when the runner-up
        /// scores more but its capacity went to other households (then `reason` says which).
        public var scoreDifference: Int
        /// Why the case is not there, when it scores more (JSON `reason`).
        public var reason: String?
    }

    /// A case that could not be placed, with the binding reason in plain words.
    public struct Unplaced: Sendable, Equatable {
        public var caseID: String
        public var reason: String

        public init(caseID: String, reason: String) {
            self.caseID = caseID
            self.reason = reason
        }
    }

    /// How the answer was found; not part of the deterministic answer (`seconds` varies).
    public struct Stats: Sendable, Equatable {
        public var seconds: Double
        /// Subgradient iterations of the Lagrangian bound.
        public var boundIterations: Int
        /// Ruin-and-recreate iterations of the local search.
        public var searchIterations: Int
        /// True when objective = bound: the placement is proven optimal.
        public var provenOptimal: Bool
        /// True when the time limit cut the search short (the result may then depend on timing).
        public var timeLimitReached: Bool
        /// The look-ahead problem, when the instance has a forecast (JSON `forecast`).
        public var forecast: Forecast? = nil
        /// Nodes of the branch and bound that proves optimality (JSON `nodes`; 0 when the
        /// heuristics' bound already met the objective or the proof did not run).
        public var nodes: Int = 0
    }

    /// The joint problem of current and forecast households (FORMAT.md "Look-ahead").
    public struct Forecast: Sendable, Equatable {
        /// Forecast households in the instance.
        public var cases: Int
        /// Score of the joint placement: the current assignments and the forecast households the
        /// joint solve places (FORMAT.md scores, no discount).
        public var objective: Int
        /// Proven upper bound on the best joint score.
        public var bound: Int
        /// Forecast households the joint solve places (JSON `placed`).
        public var placed: Int
        /// The objective of the current cases solved without the forecast (JSON
        /// `objective_without_forecast`): what looking ahead gives up now is this minus `objective`
        /// of the result.
        public var objectiveWithoutForecast: Int
    }

    /// Total score of the assignments.
    public var objective: Int
    /// Proven upper bound on the best possible objective; `bound - objective` is a certified gap.
    public var bound: Int
    /// In the order of the instance's cases.
    public var assignments: [Assignment]
    /// In the order of the instance's cases.
    public var unplaced: [Unplaced]
    public var stats: Stats

    /// A result put together from others (a batch's two stages: ReceptionKit's DeadlineFirst).
    public init(objective: Int, bound: Int, assignments: [Assignment], unplaced: [Unplaced], stats: Stats) {
        self.objective = objective
        self.bound = bound
        self.assignments = assignments
        self.unplaced = unplaced
        self.stats = stats
    }

    /// Relative certified gap, (bound − objective) / bound (0 when bound is 0).
    public var gap: Double { bound > 0 ? Double(bound - objective) / Double(bound) : 0 }

    /// The result as `placement-result/1` JSON (UTF-8, one line per assignment, keys in a fixed
    /// order). `includeStats: false` leaves out `stats`, which holds the only timing-dependent values.
    public func jsonData(includeStats: Bool = true) -> Data {
        var out = JSONWriter()
        out.raw("{\"format\":")
        out.string(PlacementResult.formatName)
        out.raw(",\"objective\":\(objective),\"bound\":\(bound),\n\"assignments\":[")
        for (i, a) in assignments.enumerated() {
            out.raw(i == 0 ? "\n{\"case\":" : ",\n{\"case\":")
            out.string(a.caseID)
            out.raw(",\"municipality\":")
            out.string(a.municipality)
            out.raw(",\"score\":\(a.score),\"reasons\":[")
            for (j, r) in a.reasons.enumerated() {
                if j > 0 { out.raw(",") }
                out.string(r)
            }
            out.raw("]")
            if let n = a.nextBest {
                out.raw(",\"next_best\":{\"municipality\":")
                out.string(n.municipality)
                out.raw(",\"name\":")
                out.string(n.name)
                out.raw(",\"score\":\(n.score),\"score_difference\":\(n.scoreDifference)")
                if let reason = n.reason {
                    out.raw(",\"reason\":")
                    out.string(reason)
                }
                out.raw("}")
            }
            out.raw("}")
        }
        out.raw("],\n\"unplaced\":[")
        for (i, u) in unplaced.enumerated() {
            out.raw(i == 0 ? "\n{\"case\":" : ",\n{\"case\":")
            out.string(u.caseID)
            out.raw(",\"reason\":")
            out.string(u.reason)
            out.raw("}")
        }
        out.raw("]")
        if includeStats {
            let seconds = (stats.seconds * 1000).rounded() / 1000
            out.raw(",\n\"stats\":{\"seconds\":\(seconds),\"gap\":\((gap * 1e6).rounded() / 1e6),")
            out.raw("\"proven_optimal\":\(stats.provenOptimal),\"bound_iterations\":\(stats.boundIterations),")
            out.raw("\"search_iterations\":\(stats.searchIterations),\"time_limit_reached\":\(stats.timeLimitReached),")
            out.raw("\"nodes\":\(stats.nodes)")
            if let f = stats.forecast {
                out.raw(",\n\"forecast\":{\"cases\":\(f.cases),\"objective\":\(f.objective),\"bound\":\(f.bound),")
                out.raw("\"placed\":\(f.placed),\"objective_without_forecast\":\(f.objectiveWithoutForecast)}")
            }
            out.raw("}")
        }
        out.raw("}\n")
        return Data(out.bytes)
    }
}

/// Minimal JSON output: raw ASCII fragments and escaped strings.
struct JSONWriter {
    var bytes: [UInt8] = []

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 0x0A: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
