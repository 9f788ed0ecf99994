//! Deckhand client core: local store, outbox and sync engine. No Tauri dependency.

pub mod config;
pub mod error;
pub mod io;
pub mod link;
pub mod merge;
pub mod model;
pub mod store;
pub mod sync;
pub mod undo;

pub use config::{EngineConfig, ServerSettings};
pub use error::{CoreError, IdleError, StoreError, SyncError};
pub use sync::engine::Engine;
