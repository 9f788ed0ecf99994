-- Deckhand client database, schema 7: the user's undo and redo stacks (crates/core/src/undo).
-- One row per step (one user action: an edit, a move, a delete, a whole bulk action, ...). The
-- top of a stack is its highest id; an undo moves a step to 'redo' as a new row (and back), so
-- ids only grow. `changes` is JSON: per card, the fields before and after (only those touched),
-- or that the card went to / came back from the Trash. Bounded by the engine (100 undo steps).
CREATE TABLE undo_steps (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    stack      TEXT NOT NULL CHECK (stack IN ('undo', 'redo')),
    label      TEXT NOT NULL,
    changes    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX undo_steps_top ON undo_steps(stack, id);
