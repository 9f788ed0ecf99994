//! Deckhand client core (see issue: client sync engine).
