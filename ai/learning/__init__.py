"""Learning from the user's corrections: the SQLite store, the `IncrementalLearner` that re-ranks
guesses with them, its embedding index, the export/import file format (history) and user rules."""
