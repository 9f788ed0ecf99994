//! Deckhand reference sync server.
