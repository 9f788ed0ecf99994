pub mod cards;
pub mod conflicts;
pub mod outbox;
pub mod sync;
pub mod script;
