// The placement engine (issue 4): pure Swift, no database, no I/O.
//
// Public API, for the daemon and the CLI:
//   PlacementInstance            the model of FORMAT.md (Instance.swift), forecast included;
//                                decode(from:) with JSON-path errors (InstanceDecoding.swift),
//                                validate(), jsonData()
//   Demand.of(_:)                what a household needs: the one Swift definition (Demand.swift)
//   Solver(timeLimit:).solve(_:) the solver (Solver.swift), deterministic; with a forecast, the
//                                look-ahead's joint solve (LookAhead.swift)
//   PlacementResult              objective, bound, assignments with reasons and next best,
//                                unplaced with reasons, stats; jsonData() (Result.swift)
//   InstanceGenerator.generate(kind:cases:seed:)  realistic synthetic instances; households(_:
//                                seed:layout:idPrefix:) more of the same region (a forecast)
//   YearReplay.run(...)          the look-ahead benchmark: a year in weekly batches vs hindsight
//
// Inside: Problem (flat compiled model), State (a placement), LagrangianBound + DualCoordinate
// (the bound), Repair, LocalSearch, Anneal, Matching, Search (placements), Explanation (reasons).
