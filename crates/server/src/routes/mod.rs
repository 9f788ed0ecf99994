pub mod batch;
pub mod cards;
pub mod changes;
pub mod events;
pub mod meta;
pub mod history;
pub mod lanes;
pub mod trash;
