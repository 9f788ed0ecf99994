//! Command-line shape of `deckhand-cli`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "deckhand-cli", version, about = "Headless Deckhand client: same database and engine as the app")]
pub struct Cli {
    /// Where deckhand.db lives.
    #[arg(long, global = true, env = "DECKHAND_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Sync server, e.g. http://127.0.0.1:8787 (only `sync` talks to it).
    #[arg(long, global = true, env = "DECKHAND_SERVER")]
    pub server: Option<String>,
    /// Bearer token for the server.
    #[arg(long, global = true, env = "DECKHAND_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub json: bool,
    /// Open the database read-only: reads work, writes fail with a `read_only` error.
    #[arg(long, global = true, env = "DECKHAND_READ_ONLY")]
    pub read_only: bool,
    /// Cap the database size in bytes (SQLite `max_page_count`); writes past it fail as on a full disk.
    #[arg(long, global = true, env = "DECKHAND_MAX_DB_BYTES", hide = true)]
    pub max_db_bytes: Option<u64>,
    /// Append one JSON line per local edit and conflict resolution to this file (what the card
    /// showed before, what was written or chosen), fsynced before the command returns.
    #[arg(long, global = true, env = "DECKHAND_JOURNAL")]
    pub journal: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create, edit, move, delete, list and search cards (local; returns at once).
    Cards {
        #[command(subcommand)]
        command: CardsCommand,
    },
    /// The board's lanes: list, add, rename (moves the lane's cards), move, remove (local;
    /// queued for the server like card writes).
    Lanes {
        #[command(subcommand)]
        command: LanesCommand,
    },
    /// Talk to the server.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// Queued operations.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Cards changed on two sides that could not merge.
    Conflicts {
        #[command(subcommand)]
        command: ConflictsCommand,
    },
    /// After a corrupt local database was moved aside and rebuilt: the ops salvaged from it.
    Recovery {
        #[command(subcommand)]
        command: RecoveryCommand,
    },
    /// Undo your last action (edit, move, delete, bulk action, restore, revert, create) as a new
    /// change on the card as it is now; fields changed since elsewhere are skipped and listed.
    Undo,
    /// Redo the last undone action (same rules as `undo`).
    Redo,
    /// Write every card (or those --query/--lane/--tag match) to a file (json, csv) or a folder
    /// of Markdown files (md).
    Export(ExportArgs),
    /// Read cards from FILE (a folder for md): Deckhand JSON, CSV (columns by header), Markdown
    /// with front matter, a Trello board export or browser bookmarks HTML. Importing the same file
    /// again creates no duplicates. Progress on stderr.
    Import(ImportArgs),
    /// Apply a JSON list of card operations in one process (test harnesses; same engine calls as
    /// `cards add/edit/mv/rm`). Prints one JSON result per op.
    #[command(hide = true)]
    Script { file: PathBuf },
    /// The engine's persisted counters as JSON (test harnesses).
    #[command(hide = true)]
    Metrics,
}

#[derive(Subcommand)]
pub enum LanesCommand {
    /// The lanes in board order, with their card counts (a lane only cards name comes last,
    /// marked "no record").
    List,
    /// Add a lane (after the last one unless --position).
    Add {
        name: String,
        #[arg(long)]
        position: Option<f64>,
    },
    /// Rename a lane; its cards move with it.
    Rename { name: String, new_name: String },
    /// Move a lane on the board: after --after LANE, or before --before LANE (neither: to the end).
    Move {
        name: String,
        #[arg(long)]
        after: Option<String>,
        #[arg(long, conflicts_with = "after")]
        before: Option<String>,
    },
    /// Remove a lane; say where its cards go: --move-to LANE or --trash.
    Rm {
        name: String,
        #[arg(long, required_unless_present = "trash")]
        move_to: Option<String>,
        #[arg(long, conflicts_with = "move_to")]
        trash: bool,
    },
}

#[derive(Subcommand)]
pub enum CardsCommand {
    /// Create a card and print it.
    Add(AddArgs),
    /// Change some fields of a card.
    Edit(EditArgs),
    /// Delete a card (it goes to the Trash).
    Rm { id: Uuid },
    /// List the Trash: deleted cards that can still be restored, most recent first.
    Trash {
        /// Purge every card in the Trash for good, on the server and here (needs the server).
        #[arg(long)]
        empty: bool,
    },
    /// Bring a card back from the Trash with its id and fields.
    Restore { id: Uuid },
    /// A card's versions on the server, newest first (needs the server).
    History {
        id: Uuid,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Bring a card's fields back to those of an older version, as a new edit (syncs like any).
    Revert {
        id: Uuid,
        #[arg(long)]
        version: i64,
    },
    /// Move a card to a lane (and position).
    Mv {
        id: Uuid,
        #[arg(long)]
        lane: String,
        #[arg(long)]
        position: Option<f64>,
    },
    /// List cards by lane and position.
    List {
        #[arg(long)]
        lane: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        /// Skip this many cards (page through more than --limit).
        #[arg(long)]
        offset: Option<u32>,
        /// Only cards matching this search (same language as `cards search`).
        #[arg(long, long_help = SEARCH_LONG_HELP)]
        query: Option<String>,
    },
    /// Show one card with its sync state.
    Show { id: Uuid },
    /// Fetch the link metadata (title, description, site, icon) of one card, or of every card
    /// with a URL (--all; --stale: only those never fetched or fetched for another URL).
    #[command(name = "refresh-meta")]
    RefreshMeta {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<Uuid>,
        #[arg(long)]
        all: bool,
        #[arg(long, requires = "all")]
        stale: bool,
    },
    /// Cards whose URL no longer answered at their last metadata fetch.
    Broken,
    /// Search title, body, url and tags: words, substrings, CJK, "phrases", tag:, lane:, is:, -term.
    #[command(long_about = SEARCH_LONG_HELP)]
    Search {
        /// e.g. 'deploy tag:work -draft "release notes" is:pending'
        query: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Args)]
pub struct AddArgs {
    #[arg(long)]
    pub title: String,
    #[arg(long)]
    pub body: Option<String>,
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    #[arg(long)]
    pub lane: Option<String>,
    #[arg(long)]
    pub pinned: bool,
    /// Refuse when a card with the same URL (normalised: case, default port, trailing slash,
    /// fragment, tracking parameters) exists; prints that card and exits with status 3.
    #[arg(long)]
    pub unique_url: bool,
}

#[derive(Args)]
pub struct EditArgs {
    pub id: Uuid,
    /// The confirmed version this edit was made on (as `cards show` printed it): a change that
    /// reached this device since is merged with the edit or raised as a conflict, not overwritten.
    #[arg(long)]
    pub base_version: Option<i64>,
    #[arg(long)]
    pub title: Option<String>,
    #[arg(long)]
    pub body: Option<String>,
    /// A URL, or "" to clear the link.
    #[arg(long)]
    pub url: Option<String>,
    /// Replaces the tags (repeat for several).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Remove every tag.
    #[arg(long, conflicts_with = "tags")]
    pub clear_tags: bool,
    #[arg(long)]
    pub lane: Option<String>,
    #[arg(long)]
    pub position: Option<f64>,
    #[arg(long)]
    pub pinned: Option<bool>,
}

#[derive(Subcommand)]
pub enum SyncCommand {
    /// Drain the outbox and pull changes.
    Run {
        /// Exit 0 once the outbox is empty and caught up; non-zero with a reason otherwise.
        #[arg(long)]
        until_idle: bool,
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Also follow the realtime (SSE) stream while running.
        #[arg(long, hide = true)]
        realtime: bool,
        /// Keep draining other cards while conflicts wait (as the desktop app does); exit with
        /// the conflicts code only once nothing else can move.
        #[arg(long, hide = true)]
        past_conflicts: bool,
    },
    /// Counts, connection and breaker state.
    Status,
}

#[derive(Subcommand)]
pub enum OutboxCommand {
    List,
    /// Retry a failed operation, or all of them.
    Retry {
        #[arg(required_unless_present = "all")]
        op: Option<i64>,
        #[arg(long)]
        all: bool,
    },
    /// Drop a failed operation; the card rolls back to its confirmed copy.
    Discard { op: i64 },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Keep {
    Mine,
    Theirs,
}

#[derive(Subcommand)]
pub enum ConflictsCommand {
    List,
    /// Settle a conflict: keep mine, keep theirs, or a merged card from a JSON file.
    Resolve {
        card_id: Uuid,
        #[arg(long, conflicts_with = "merged", required_unless_present = "merged")]
        keep: Option<Keep>,
        /// A JSON file with the merged card fields (title, body, url, tags, lane, position, pinned).
        #[arg(long)]
        merged: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum RecoveryCommand {
    /// The last recovery (where the old file went, why) and the salvaged ops.
    List,
    /// Queue salvaged ops again (sync them as new local edits); run it after a `sync run --until-idle`.
    Requeue {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<i64>,
        #[arg(long)]
        all: bool,
    },
    /// Drop salvaged ops for good.
    Discard {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<i64>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormatArg {
    Json,
    Csv,
    Md,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ImportFormatArg {
    Json,
    Csv,
    Md,
    Trello,
    Bookmarks,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FoldersArg {
    /// Every enclosing folder becomes a tag.
    Tags,
    /// The innermost folder becomes the lane.
    Lane,
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: ExportFormatArg,
    /// The file to write (json, csv) or the folder (md).
    #[arg(long)]
    pub out: PathBuf,
    /// Only cards matching this full-text search.
    #[arg(long)]
    pub query: Option<String>,
    #[arg(long)]
    pub lane: Option<String>,
    #[arg(long)]
    pub tag: Option<String>,
}

#[derive(Args)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// Detected from the file when omitted (a folder is md; .csv, .html; a .json says which).
    #[arg(long, value_enum)]
    pub format: Option<ImportFormatArg>,
    /// Bookmarks: folders become tags (default) or the lane.
    #[arg(long, value_enum)]
    pub folders: Option<FoldersArg>,
}
/// The search language, for `cards search --help` and `cards list --help` (the app's search box
/// tooltip says the same: deckhand_core::store::search::SEARCH_HELP).
const SEARCH_LONG_HELP: &str = "Search title, body, url and tags. Every term must match; case and accents are ignored.

  word            a word starting with it, or (from 4 letters) anywhere inside a word:
                  `ploy` finds \"deploying\"; CJK at any length (`同期` finds \"データ同期\")
  \"two words\"     the words in this order
  tag:x           cards tagged x (exactly; tag:\"two words\" for spaces)
  lane:y          cards in lane y (exactly)
  is:pending      cards with edits not yet sent; is:failed (refused by the server),
                  is:conflict (waiting for you), is:pinned
  -term           cards NOT matching: -draft, -tag:old, -is:pinned, -\"a phrase\"

Anything else (a URL, foo:bar) is searched as text. An unknown is: value is refused with the
values that exist.";
