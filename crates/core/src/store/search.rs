//! The search box's query language (issue 12, "Search people trust"), parsed into clauses that
//! `cards::list` turns into SQL. Every clause must hold (AND); `-` in front of any clause negates it.
//!
//! - `word`            a word starting with it (word index) or, from 4 letters (3 characters in
//!                     scripts without spaces, e.g. CJK), anywhere inside a word (substring index:
//!                     `ploy` finds "deploying", `タ同期` finds "データ同期");
//!                     case and accents are ignored. A 1–2 character term with non-ASCII letters
//!                     (`同期`) is looked for as a substring too. A term of letters and digits is
//!                     found inside words through the vocabulary of indexed words
//!                     (`term_lookup`, migration 0011); others through the trigram index over the
//!                     cards, or a scan of them for short ones (trigrams need 3 characters).
//! - `"two words"`     the words in this order (a phrase); an unclosed quote runs to the end.
//! - `tag:x`           the card has tag `x` (exactly). `tag:"two words"` quotes a value.
//! - `lane:y`          the card is in lane `y` (exactly).
//! - `is:pending`      the card has local edits waiting to be sent; `is:failed` one the server
//!   `is:failed`       refused; `is:conflict` a conflict waiting for you; `is:pinned` pinned.
//! - `-word`, `-tag:x`, `-"a phrase"`, `-is:pinned`: cards that do NOT match.
//!
//! Anything else is text: `https://example.com/a` or `foo:bar` are searched as words. Bad input
//! never reaches FTS5 as syntax: every text term is passed as a quoted FTS5 string. The only
//! refusal is an unknown `is:` value, answered with the values that exist.

use deckhand_protocol::FieldError;

/// Help text for the search box tooltip and the CLI (one place, so both say the same).
pub const SEARCH_HELP: &str = "Search: words match the start of a word, or from 4 letters anywhere inside one (CJK: from 1 character); \
\"quoted phrase\"; tag:x; lane:y; is:pending | is:failed | is:conflict | is:pinned; -term excludes. All terms must match.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// A word (`phrase = false`) or a quoted phrase.
    Text { text: String, phrase: bool },
    Tag(String),
    Lane(String),
    Is(IsState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsState {
    Pending,
    Failed,
    Conflict,
    Pinned,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub negated: bool,
    pub filter: Filter,
}

/// Why a query was refused (the search box shows the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("unknown is:{0} (use is:pending, is:failed, is:conflict or is:pinned)")]
    UnknownState(String),
}

impl From<QueryError> for super::StoreError {
    fn from(e: QueryError) -> Self {
        super::StoreError::Validation(vec![FieldError { field: "text".into(), message: e.to_string() }])
    }
}

/// Split `input` into clauses. Empty terms (a lone `-`, `tag:` with nothing after it while the
/// user is still typing, `""`) are dropped rather than refused.
pub fn parse(input: &str) -> Result<Vec<Clause>, QueryError> {
    let mut out = Vec::new();
    let mut rest = input.trim_start();
    while !rest.is_empty() {
        let (negated, after_minus) = match rest.strip_prefix('-') {
            Some(r) if !r.is_empty() && !r.starts_with(char::is_whitespace) => (true, r),
            _ => (false, rest),
        };
        let (token, quoted, next) = take_token(after_minus);
        rest = next.trim_start();
        // A dash alone is a negation still being typed.
        if token.is_empty() || (!quoted && token == "-") {
            continue;
        }
        let filter = if quoted { Some(Filter::Text { text: token, phrase: true }) } else { operator_or_word(&token)? };
        let filter = match filter {
            Some(f) => f,
            None => continue,
        };
        out.push(Clause { negated, filter });
    }
    Ok(out)
}

/// A bare token: `key:value` for the three operator keys (the value may be quoted), else a word.
/// `None` for an operator with no value yet.
fn operator_or_word(token: &str) -> Result<Option<Filter>, QueryError> {
    let Some((key, value)) = token.split_once(':') else {
        return Ok(Some(Filter::Text { text: token.to_string(), phrase: false }));
    };
    let value = value.trim_matches('"');
    let f = match key.to_ascii_lowercase().as_str() {
        "tag" if value.is_empty() => return Ok(None),
        "lane" if value.is_empty() => return Ok(None),
        "is" if value.is_empty() => return Ok(None),
        "tag" => Filter::Tag(value.to_string()),
        "lane" => Filter::Lane(value.to_string()),
        "is" => Filter::Is(match value.to_ascii_lowercase().as_str() {
            "pending" => IsState::Pending,
            "failed" => IsState::Failed,
            "conflict" | "conflicts" => IsState::Conflict,
            "pinned" => IsState::Pinned,
            _ => return Err(QueryError::UnknownState(value.to_string())),
        }),
        _ => Filter::Text { text: token.to_string(), phrase: false },
    };
    Ok(Some(f))
}

/// The next token of `s` (which does not start with whitespace): a quoted phrase, or a run up to
/// whitespace in which `key:"quoted value"` keeps its spaces. Returns (token, was a phrase, rest).
fn take_token(s: &str) -> (String, bool, &str) {
    if let Some(body) = s.strip_prefix('"') {
        return match body.find('"') {
            Some(end) => (body[..end].trim().to_string(), true, &body[end + 1..]),
            None => (body.trim().to_string(), true, ""),
        };
    }
    let mut end = s.len();
    let mut in_quote = false;
    let mut seen_colon = false;
    for (i, ch) in s.char_indices() {
        match ch {
            ':' => seen_colon = true,
            '"' if seen_colon => in_quote = !in_quote,
            c if c.is_whitespace() && !in_quote => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    // Stray quotes inside a word are not syntax.
    let token = s[..end].to_string();
    let token = if token.contains(':') { token } else { token.replace('"', "") };
    (token, false, &s[end..])
}

/// `text` as one FTS5 string (a phrase of whatever tokens the tokenizer finds in it): the only way
/// user text reaches MATCH, so no input is FTS5 syntax.
pub fn fts_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Terms shorter than this have no trigram: the substring index cannot answer them.
pub const TRIGRAM_MIN_CHARS: usize = 3;
/// ASCII terms go through the substring index from this length. Three Latin letters are what
/// someone typing a word has so far ("dep"): as a substring they match a large share of all
/// cards (81,000 of 100,000 in P6's corpus) and cost a trigram scan of that size, while as a
/// word start they are what the user means. Scripts written without spaces (CJK) use 3.
pub const TRIGRAM_MIN_ASCII_CHARS: usize = 4;

/// How a text term is looked up (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPlan {
    /// MATCH expression for the word index (prefix for a word, exact for a phrase).
    pub word: String,
    /// MATCH expression for the substring index, when the term is long enough.
    pub trigram: Option<String>,
    /// A short non-ASCII term: look for it as a substring by scanning.
    pub scan: Option<String>,
}

pub fn plan_text(text: &str, phrase: bool) -> TextPlan {
    let chars = text.chars().count();
    let word = if phrase { fts_string(text) } else { format!("{}*", fts_string(text)) };
    let min = if text.is_ascii() { TRIGRAM_MIN_ASCII_CHARS } else { TRIGRAM_MIN_CHARS };
    let trigram = (chars >= min).then(|| fts_string(text));
    let scan = (chars < TRIGRAM_MIN_CHARS && !text.is_ascii()).then(|| text.to_string());
    TextPlan { word, trigram, scan }
}

/// How the vocabulary (`search_terms`) finds the words that contain a term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermLookup {
    /// MATCH expression for `search_terms_tri` (3+ characters).
    Trigram(String),
    /// A 1–2 character term looked for with `instr` over the words (lowercased).
    Contains(String),
}

/// Most words a vocabulary lookup may turn into: more, and the term is looked up the old way
/// (trigram index over the cards, or a scan), which costs about the same for a set that broad.
pub const TERM_LOOKUP_MAX: usize = 256;

/// When a term's substring matches can be found through the vocabulary: a word (not a phrase)
/// made of letters and digits only, so every place it occurs lies inside one word of the card.
/// Terms with punctuation (`x-ray`, URLs) can span words and keep the trigram index over the
/// cards. Short terms only in scripts without case folding or accents (CJK and the like): the
/// words from older databases are stored accent-folded, which a plain `instr` would miss.
pub fn term_lookup(text: &str, phrase: bool) -> Option<TermLookup> {
    if phrase || text.is_empty() || !text.chars().all(char::is_alphanumeric) {
        return None;
    }
    let plan = plan_text(text, false);
    if let Some(t) = plan.trigram {
        return Some(TermLookup::Trigram(t));
    }
    // U+2E80 onwards: CJK radicals, kana, CJK ideographs, Hangul (no case, no accents).
    let unfolded = |c: char| c.is_ascii_digit() || c as u32 >= 0x2E80;
    (plan.scan.is_some() && text.chars().all(unfolded)).then(|| TermLookup::Contains(text.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(t: &str) -> Clause {
        Clause { negated: false, filter: Filter::Text { text: t.into(), phrase: false } }
    }
    fn not(c: Clause) -> Clause {
        Clause { negated: true, ..c }
    }

    #[test]
    fn words_phrases_and_operators() {
        let q = parse(r#"deploy "release notes" tag:work lane:Doing is:pending -draft -tag:old -is:pinned"#).unwrap();
        assert_eq!(
            q,
            vec![
                word("deploy"),
                Clause { negated: false, filter: Filter::Text { text: "release notes".into(), phrase: true } },
                Clause { negated: false, filter: Filter::Tag("work".into()) },
                Clause { negated: false, filter: Filter::Lane("Doing".into()) },
                Clause { negated: false, filter: Filter::Is(IsState::Pending) },
                not(word("draft")),
                not(Clause { negated: false, filter: Filter::Tag("old".into()) }),
                not(Clause { negated: false, filter: Filter::Is(IsState::Pinned) }),
            ]
        );
    }

    #[test]
    fn quoted_operator_values_and_case() {
        let q = parse(r#"LANE:"In progress" Tag:"a b" IS:Conflict"#).unwrap();
        assert_eq!(q[0].filter, Filter::Lane("In progress".into()));
        assert_eq!(q[1].filter, Filter::Tag("a b".into()));
        assert_eq!(q[2].filter, Filter::Is(IsState::Conflict));
    }

    #[test]
    fn bad_and_unfinished_input_is_never_syntax() {
        // Unclosed quote: a phrase to the end. Lone dash, empty quotes, operators still being typed: dropped.
        assert_eq!(parse(r#""unclosed phrase"#).unwrap()[0].filter, Filter::Text { text: "unclosed phrase".into(), phrase: true });
        assert_eq!(parse(r#"- "" tag: lane: is: -"#).unwrap(), vec![]);
        // URLs and other colons are words; stray quotes inside a word are dropped.
        assert_eq!(parse("https://example.com/a?b=c").unwrap(), vec![word("https://example.com/a?b=c")]);
        assert_eq!(parse("foo:bar").unwrap(), vec![word("foo:bar")]);
        assert_eq!(parse(r#"re"port"#).unwrap(), vec![word("report")]);
        // FTS5 operators are plain words.
        assert_eq!(parse("NOT AND OR NEAR( * ^").unwrap().len(), 6);
        // A hyphen inside a word is not a negation.
        assert_eq!(parse("x-ray").unwrap(), vec![word("x-ray")]);
        assert_eq!(parse("is:bogus"), Err(QueryError::UnknownState("bogus".into())));
        assert!(QueryError::UnknownState("x".into()).to_string().contains("is:pending"));
    }

    #[test]
    fn fts_strings_quote_everything() {
        assert_eq!(fts_string(r#"a"b"#), r#""a""b""#);
        let p = plan_text("同期", false);
        assert_eq!((p.trigram, p.scan.as_deref()), (None, Some("同期")));
        let p = plan_text("ploy", false);
        assert_eq!((p.word.as_str(), p.trigram.as_deref(), p.scan), ("\"ploy\"*", Some("\"ploy\""), None));
        assert_eq!(plan_text("de", false).trigram, None);
        assert_eq!(plan_text("dep", false).trigram, None, "3 Latin letters: word starts only");
        assert!(plan_text("タ同期", false).trigram.is_some());
        assert_eq!(plan_text("two words", true).word, "\"two words\"");
        assert_eq!(term_lookup("ploy", false), Some(TermLookup::Trigram("\"ploy\"".into())));
        assert_eq!(term_lookup("同期", false), Some(TermLookup::Contains("同期".into())));
        assert_eq!(term_lookup("dep", false), None, "word starts only");
        assert_eq!(term_lookup("x-ray", false), None, "may span words");
        assert_eq!(term_lookup("ploy", true), None);
        assert_eq!(term_lookup("é", false), None, "accent-folded words would be missed");
    }
}
