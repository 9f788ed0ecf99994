//! Seam to the field-level 3-way merge. The real implementation lives in `crate::merge`
//! (written in parallel); until it lands this file carries a small placeholder with the same API.
//! Switching is the one line below.

pub(crate) use placeholder::merge3;

mod placeholder {
    use crate::model::CardFields;

    pub struct MergeOutcome {
        pub merged: CardFields,
        pub conflicting: Vec<String>,
    }

    /// Field by field: a side that did not change the field takes the other side's value;
    /// equal changes agree; different changes conflict (merged keeps theirs).
    pub fn merge3(base: &CardFields, mine: &CardFields, theirs: &CardFields) -> MergeOutcome {
        let mut merged = theirs.clone();
        let mut conflicting = Vec::new();
        macro_rules! field {
            ($f:ident) => {
                if mine.$f == theirs.$f || mine.$f == base.$f {
                    merged.$f = theirs.$f.clone();
                } else if theirs.$f == base.$f {
                    merged.$f = mine.$f.clone();
                } else {
                    conflicting.push(stringify!($f).to_string());
                }
            };
        }
        field!(title);
        field!(body);
        field!(url);
        field!(tags);
        field!(lane);
        field!(position);
        field!(pinned);
        MergeOutcome { merged, conflicting }
    }
}
