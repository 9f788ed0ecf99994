//! Deckhand client core: local store, outbox and sync engine. No Tauri dependency.

pub mod merge;
pub mod model;
