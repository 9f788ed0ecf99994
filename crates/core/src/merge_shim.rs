//! Seam to the field-level 3-way merge (`crate::merge`). Kept as one line so the engine's merge
//! can be swapped without touching callers.

pub(crate) use crate::merge::merge3;
