"""Runtime: loads, caches and launches generated programs (lands with the compiler)."""
