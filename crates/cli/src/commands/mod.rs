pub mod cards;
pub mod conflicts;
pub mod outbox;
pub mod recovery;
pub mod sync;
pub mod transfer;
pub mod script;
pub mod undo;
