pub mod cards;
pub mod conflicts;
pub mod lanes;
pub mod outbox;
pub mod recovery;
pub mod sync;
pub mod script;
