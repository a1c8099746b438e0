//! Shared benchmark machinery (used by `benches/` and, later, `tidal bench`).
