// The search box's tooltip: the query language of crates/core/src/store/search.rs (SEARCH_HELP
// there and `deckhand-cli cards search --help` say the same).
export const SEARCH_HELP = [
  "Every term must match; case and accents are ignored.",
  "word — a word starting with it, or (4+ letters; CJK any length) anywhere inside a word: ploy finds “deploying”, 同期 finds “データ同期”",
  "\"two words\" — the words in this order",
  "tag:x — tagged x   ·   lane:y — in lane y   (tag:\"two words\" for spaces)",
  "is:pending · is:failed · is:conflict · is:pinned",
  "-term — exclude: -draft, -tag:old, -is:pinned",
].join("\n");
