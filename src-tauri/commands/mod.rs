pub mod cards;
pub mod conflicts;
pub mod desktop;
pub mod lanes;
pub mod outbox;
pub mod recovery;
pub mod settings;
pub mod sync;
