pub mod cards;
pub mod conflicts;
pub mod desktop;
pub mod links;
pub mod outbox;
pub mod recovery;
pub mod settings;
pub mod sync;
