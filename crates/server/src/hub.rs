//! In-memory fan-out to each user's open SSE streams: committed changes made by this process,
//! changes other instances committed (read once per user here when their NOTIFY arrives, then
//! published like local ones), and pokes ("this user's seq reached N") from the reconcile loop,
//! on which a stream that is behind reads the changes from the database itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::response::sse::Event;
use deckhand_protocol::Change;
use tokio::sync::broadcast;

use crate::storage::UserId;

const CHANNEL_CAPACITY: usize = 1024;

/// A committed change as every live stream sends it: the SSE event is built (the card serialised
/// to JSON) once here, and each subscriber clones the finished bytes. With 1,000 streams of one
/// user that is one serialisation per write instead of 1,000 (P5, docs/benchmarks-notes.md).
#[derive(Debug)]
pub struct Published {
    pub seq: i64,
    pub event: Event,
}

#[derive(Debug, Clone)]
pub enum HubMsg {
    /// A change this process committed, ready to send.
    Change(Arc<Published>),
    /// The user's changes reached this seq somewhere; read what is missing from the database.
    Poke(i64),
}

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<UserId, broadcast::Sender<HubMsg>>>,
    /// Per user with streams here: how far this process has published, and the remote fetch.
    fetches: Mutex<HashMap<UserId, Fetch>>,
}

/// One user's reads of other instances' changes. Every stream of the user used to read the
/// database on each remote NOTIFY (1,000 streams over 3 instances: ~670 reads per write, P5);
/// now one read per user publishes the changes to all of them. A stream that sees a jump still
/// reads the gap itself, so this is a shortcut, never the only path.
#[derive(Debug, Default)]
struct Fetch {
    /// Highest seq published to the user's channel (local writes and fetched changes).
    published: i64,
    /// Highest seq announced by other instances.
    wanted: i64,
    running: bool,
}

/// Changes read per remote fetch (more: the fetch loops).
const FETCH_PAGE: u32 = 100;

impl Hub {
    pub fn subscribe(&self, user: UserId) -> broadcast::Receiver<HubMsg> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(user).or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0).subscribe()
    }

    /// Called after the change committed. Drops a user's channel once nobody listens; nothing is
    /// serialised for a user without streams.
    pub fn publish(&self, user: UserId, change: Change) {
        self.publish_as(user, change.seq, true, || crate::routes::events::event_for(&change));
    }

    /// A committed lane change (`lane.updated` / `lane.deleted`), in the same seq order.
    pub fn publish_lane(&self, user: UserId, change: deckhand_protocol::LaneChange) {
        self.publish_as(user, change.seq, true, || crate::routes::events::lane_event_for(&change));
    }

    /// `local`: a change this process committed. While a read of other instances' changes is
    /// running for the user and this one is not the next seq, it is left to that read (it is
    /// committed, so the read brings it, in order); sent now, it would overtake the remote
    /// change and make every local stream read the gap from the database itself.
    fn publish_as(&self, user: UserId, seq: i64, local: bool, event: impl FnOnce() -> Event) {
        if !self.has_streams(user) {
            return;
        }
        {
            let mut fetches = self.fetches.lock().unwrap_or_else(|p| p.into_inner());
            let f = fetches.entry(user).or_default();
            if local && f.running && seq > f.published + 1 {
                f.wanted = f.wanted.max(seq);
                return;
            }
            f.published = f.published.max(seq);
        }
        self.send(user, HubMsg::Change(Arc::new(Published { seq, event: event() })));
    }

    /// Another instance committed `seq` for `user`: unless it is already published here (this
    /// process's own NOTIFY comes back too), one task reads it, and whatever else is new, from
    /// the database and publishes it to the user's streams. If the read fails, the streams are
    /// poked and read for themselves.
    pub fn remote_change(self: &Arc<Self>, rt: &tokio::runtime::Handle, state: &crate::state::AppState, user: UserId, seq: i64) {
        if !self.has_streams(user) {
            return;
        }
        {
            let mut fetches = self.fetches.lock().unwrap_or_else(|p| p.into_inner());
            // First news of this user here: start just below it, not at the beginning of time.
            let f = fetches.entry(user).or_insert_with(|| Fetch { published: seq - 1, wanted: 0, running: false });
            if seq <= f.published {
                return;
            }
            f.wanted = f.wanted.max(seq);
            if f.running {
                return;
            }
            f.running = true;
        }
        let (hub, state) = (self.clone(), state.clone());
        rt.spawn(async move {
            let max_bytes = state.config.page_max_bytes;
            loop {
                let (since, wanted) = {
                    let fetches = hub.fetches.lock().unwrap_or_else(|p| p.into_inner());
                    fetches.get(&user).map(|f| (f.published, f.wanted)).unwrap_or((seq, seq))
                };
                // Cards and lanes share the seq: the merged feed page, published in seq order.
                let page = state.db(move |s| crate::feed::page(s, user, since, FETCH_PAGE, max_bytes)).await;
                let progressed = match page {
                    Ok(page) if !(page.cards.is_empty() && page.lanes.is_empty()) => {
                        let mut events: Vec<(i64, Event)> = page.cards.iter().map(|c| (c.seq, crate::routes::events::event_for(c)))
                            .chain(page.lanes.iter().map(|l| (l.seq, crate::routes::events::lane_event_for(l)))).collect();
                        events.sort_by_key(|(seq, _)| *seq);
                        for (seq, event) in events {
                            hub.publish_as(user, seq, false, || event);
                        }
                        true
                    }
                    // Nothing past `since` (purged meanwhile) or a database error.
                    _ => false,
                };
                let mut fetches = hub.fetches.lock().unwrap_or_else(|p| p.into_inner());
                let Some(f) = fetches.get_mut(&user) else { return };
                if !progressed {
                    f.published = f.published.max(wanted);
                }
                if !progressed || f.published >= f.wanted {
                    f.running = false;
                    drop(fetches);
                    if !progressed {
                        hub.poke(user, wanted);
                    }
                    return;
                }
            }
        });
    }

    fn has_streams(&self, user: UserId) -> bool {
        let map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&user).is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// Wakes `user`'s streams that are behind `seq` (they catch up from the database).
    pub fn poke(&self, user: UserId, seq: i64) {
        self.send(user, HubMsg::Poke(seq));
    }

    /// Users with at least one open stream in this process.
    pub fn users(&self) -> Vec<UserId> {
        let map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().filter(|(_, tx)| tx.receiver_count() > 0).map(|(u, _)| *u).collect()
    }

    fn send(&self, user: UserId, msg: HubMsg) {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(&user) {
            if tx.send(msg).is_err() {
                map.remove(&user);
                drop(map);
                self.fetches.lock().unwrap_or_else(|p| p.into_inner()).remove(&user);
            }
        }
    }
}

/// With a shared backend: feeds other instances' signals into the hub and the revocation
/// watch, and re-reads subscribed users' seqs every `reconcile_interval` and after every
/// listener reconnect, so a lost notification delays delivery by at most one period.
pub fn spawn_cross_instance(state: crate::state::AppState) {
    use crate::storage::Signal;
    let Some(notifier) = state.notifier.clone() else { return };
    let resync = Arc::new(tokio::sync::Notify::new());
    {
        let hub = state.hub.clone();
        let revocations = state.revocations.clone();
        let resync = resync.clone();
        let st = state.clone();
        // The listener calls back on the database runtime; fetches run on the server's.
        let rt = tokio::runtime::Handle::current();
        notifier.listen(Arc::new(move |signal| match signal {
            Signal::Changed { user, seq } => hub.remote_change(&rt, &st, user, seq),
            Signal::Revoked => revocations.send_modify(|epoch| *epoch += 1),
            Signal::Resync => resync.notify_one(),
        }));
    }
    tokio::spawn(async move {
        let shutdown = crate::state::until_shutdown(state.shutdown.clone());
        tokio::pin!(shutdown);
        let every = state.config.reconcile_interval.max(std::time::Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
                _ = resync.notified() => {}
            }
            for user in state.hub.users() {
                match state.db(move |s| s.last_seq(user)).await {
                    Ok(seq) => state.hub.poke(user, seq),
                    Err(e) => tracing::warn!(user, detail = %e.problem.detail, "reconcile: reading last seq failed"),
                }
            }
        }
    });
}
