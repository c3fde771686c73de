"""Pure statistics: accumulators, profiles, drift methods, quality checks. No I/O."""
