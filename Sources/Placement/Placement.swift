// The placement engine (issue 4): pure Swift, no database, no I/O.
//
// Public API, for the daemon and the CLI:
//   PlacementInstance            the model of FORMAT.md (Instance.swift); decode(from:) with
//                                JSON-path errors (InstanceDecoding.swift), validate(), jsonData()
//   Solver(timeLimit:).solve(_:) the solver (Solver.swift), deterministic
//   PlacementResult              objective, bound, assignments with reasons and next best,
//                                unplaced with reasons, stats; jsonData() (Result.swift)
//   InstanceGenerator.generate(kind:cases:seed:)  realistic synthetic instances
//
// Inside: Problem (flat compiled model), State (a placement), LagrangianBound + DualCoordinate
// (the bound), Repair, LocalSearch, Anneal, Matching, Search (placements), Explanation (reasons).
