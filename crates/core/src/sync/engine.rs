//! `Engine`: the facade the faces (desktop app, CLI) use. See docs/engine-api.md.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deckhand_protocol::CardChanges;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::backoff::Backoff;
use super::breaker::Breaker;
use super::client::SyncClient;
use super::{Runtime, Shared, SharedRef, drain, empty_stream_health, realtime};
use crate::config::{EngineConfig, ServerSettings};
use crate::error::{CoreError, IdleError};
use crate::model::*;
use crate::store::{self, Store, cards, conflicts, history, outbox, positions, sync_state, writes};
use crate::undo;

/// The local-first card engine: SQLite store + outbox + background sync.
pub struct Engine {
    pub(super) sh: SharedRef,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Set when this open found the database corrupt and rebuilt it.
    recovered: Option<RecoveryReport>,
}

impl Engine {
    /// Open (and migrate) `data_dir/deckhand.db` and start background sync when a server is set.
    pub async fn open(mut config: EngineConfig) -> Result<Engine, CoreError> {
        // More writes per request than the protocol allows would make every batch a 422.
        config.batch_max = config.batch_max.clamp(1, deckhand_protocol::limits::BATCH_MAX_WRITES);
        if let Some(s) = &config.server {
            check_server(s)?;
        }
        let path = config.db_path();
        let opts = store::OpenOptions { read_only: config.read_only, max_db_bytes: config.max_db_bytes };
        let (store, recovered) = tokio::task::spawn_blocking(move || Store::open_with(&path, opts))
            .await
            .map_err(|e| CoreError::Storage(e.to_string()))??;
        if !config.read_only {
            // First run: Inbox, Doing, Done (fixed ids: once per user, however many devices).
            store.write(|tx| store::lanes::seed_defaults(tx))?;
        }
        let last_synced_at = store
            .read(|c| sync_state::get(c, sync_state::LAST_SYNCED_AT))?
            .and_then(|s| store::cards::parse_ts(&s).ok());
        let (events, _) = broadcast::channel(4096);
        let sh = Arc::new(Shared {
            store: Arc::new(store),
            events,
            rt: Mutex::new(Runtime {
                server: config.server.clone(),
                connection: ConnectionState::Disabled,
                breaker: Breaker::new(config.breaker_threshold, config.breaker_reset),
                stream: empty_stream_health(),
                paused: false,
                pull_requested: false,
                caught_up: false,
                drain_window: config.drain_window.max(1),
                last_synced_at,
                last_status_emit: None,
                creates_in_flight: Default::default(),
                held_echoes: Default::default(),
                sends_running: 0,
                feed_behind: false,
                session: 0,
                stranded: Vec::new(),
                batch_unsupported: false,
                apply_failed_at: None,
                resyncing: false,
            }),
            wake: tokio::sync::Notify::new(),
            wake_stream: tokio::sync::Notify::new(),
            backoff: Backoff::new(config.backoff_base, config.backoff_cap),
            status_scheduled: std::sync::atomic::AtomicBool::new(false),
            link_auto: std::sync::atomic::AtomicBool::new(config.link_meta_auto),
            sync_released: tokio::sync::watch::channel(!config.hold_sync).0,
            config,
        });
        let engine = Engine { sh, tasks: Mutex::new(Vec::new()), recovered: recovered.clone() };
        if let Some(report) = recovered {
            // Nobody is subscribed yet at open; faces read `recovery()` / `status().recovery`.
            engine.sh.emit(EngineEvent::DatabaseRecovered { report });
        }
        engine.start_session()?;
        Ok(engine)
    }

    fn start_session(&self) -> Result<(), CoreError> {
        let server = self.sh.rt().server.clone();
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        for t in tasks.drain(..) {
            t.abort();
        }
        {
            let mut rt = self.sh.rt();
            rt.breaker = Breaker::new(self.sh.config.breaker_threshold, self.sh.config.breaker_reset);
            rt.stream = empty_stream_health();
            rt.caught_up = false;
            // The old session's sends are gone: their ops go back to pending in the store and
            // the held echoes come again from the stored cursor (which never passed them).
            rt.creates_in_flight.clear();
            rt.held_echoes.clear();
            rt.sends_running = 0;
            rt.feed_behind = false;
            // Another server (or the same one again) may well take batches.
            rt.batch_unsupported = false;
            rt.apply_failed_at = None;
        }
        let Some(server) = server else {
            self.sh.set_connection(ConnectionState::Disabled);
            return Ok(());
        };
        let client = SyncClient::new(&server.url, &server.token, self.sh.config.request_timeout)
            .map_err(|e| CoreError::Config(e.to_string()))?;
        // Set before the tasks run so nobody observes the previous session's state.
        let paused = self.sh.rt().paused;
        self.sh.set_connection(if paused { ConnectionState::Paused } else { ConnectionState::Connecting });
        self.sh.request_pull();
        // Held (`EngineConfig::hold_sync`): the tasks exist (shutdown aborts them) but send
        // nothing until `release_sync`.
        let held = |sh: &Arc<Shared>| {
            let mut gate = sh.sync_released.subscribe();
            async move {
                let _ = gate.wait_for(|released| *released).await;
            }
        };
        let (gate, sh) = (held(&self.sh), self.sh.clone());
        tasks.push(tokio::spawn(async move {
            gate.await;
            drain::run(sh, client).await
        }));
        if self.sh.config.realtime {
            let (gate, sh) = (held(&self.sh), self.sh.clone());
            tasks.push(tokio::spawn(async move {
                gate.await;
                realtime::run(sh, server).await
            }));
        }
        Ok(())
    }

    /// Let background sync start (see `EngineConfig::hold_sync`). Idempotent; a no-op when it
    /// was never held.
    pub fn release_sync(&self) {
        self.sh.sync_released.send_replace(true);
    }

    /// Stop background sync. The database stays consistent (every write is one transaction).
    pub async fn shutdown(&self) {
        let tasks: Vec<_> = self.tasks.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Run store code for a caller who awaits it: the user's writes and reads.
    ///
    /// On a multi-thread runtime it runs right here: `block_in_place` hands this worker's other
    /// tasks to another thread, and no thread has to wake up to run the call and then wake this
    /// task again. On 2 cores those two wake-ups were a third of an awaited create (Q1 in
    /// docs/benchmarks.md: p50 75 → 53 µs, p99 244 → 121 µs). Elsewhere (a current-thread
    /// runtime, e.g. `#[tokio::test]`) it goes to the blocking pool, as the sync machinery's
    /// calls (`Shared::db`) always do: those join several store calls inside one task (the
    /// confirmer's group commit, the pull's prefetch while a page is applied), which running
    /// in place would serialise. Tokio refuses `block_in_place` inside a `LocalSet`: poll the
    /// engine's futures on the runtime itself.
    pub(crate) async fn db<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> store::Result<R> + Send + 'static,
    ) -> Result<R, CoreError> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        if matches!(Handle::try_current().map(|h| h.runtime_flavor()), Ok(RuntimeFlavor::MultiThread)) {
            let s = &self.sh.store;
            return Ok(tokio::task::block_in_place(|| f(s))?);
        }
        Ok(self.sh.db(f).await?)
    }

    // ---- queries ----

    pub async fn list(&self, q: ListQuery) -> Result<CardPage, CoreError> {
        self.db(move |s| s.read(|c| cards::list(c, &q))).await
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<CardView>, CoreError> {
        self.db(move |s| s.read(|c| cards::view(c, id))).await
    }

    /// The board's lanes: lane records by position, then lanes only cards name (docs/engine-api.md).
    pub async fn lanes(&self) -> Result<Vec<LaneSummary>, CoreError> {
        self.db(|s| s.read(store::lanes::summaries)).await
    }

    // ---- lanes (store/lanes.rs; each one transaction, queued for the server) ----

    fn after_lane_write(&self, cards: Vec<Uuid>) {
        self.sh.emit(EngineEvent::LanesChanged);
        self.after_write(cards);
    }

    /// A new lane, after the last one unless `position` is given. A name another lane has
    /// (case-insensitively) is `lane_name_taken`.
    pub async fn add_lane(&self, name: String, position: Option<f64>) -> Result<LaneSummary, CoreError> {
        let row = self.db(move |s| s.write(|tx| store::lanes::add(tx, &name, position))).await?;
        self.after_lane_write(Vec::new());
        Ok(LaneSummary { lane: row.name, count: 0, id: Some(row.id), position: Some(row.position), pending: true })
    }

    /// Renames a lane and moves its cards with it (one user action). Returns the moved cards.
    pub async fn rename_lane(&self, name: String, new_name: String) -> Result<Vec<Uuid>, CoreError> {
        let (_, moved) = self.db(move |s| s.write(|tx| store::lanes::rename(tx, &name, &new_name))).await?;
        self.after_lane_write(moved.clone());
        Ok(moved)
    }

    /// Moves a lane between its new neighbours on the board (`before` precedes it, `after`
    /// follows it; neither = to the end).
    pub async fn move_lane(&self, name: String, before: Option<String>, after: Option<String>) -> Result<(), CoreError> {
        self.db(move |s| s.write(|tx| store::lanes::move_between(tx, &name, before.as_deref(), after.as_deref()).map(|_| ()))).await?;
        self.after_lane_write(Vec::new());
        Ok(())
    }

    /// Deletes a lane; its cards go to another lane or to the Trash. Returns the cards touched.
    pub async fn delete_lane(&self, name: String, cards_go: LaneCards) -> Result<Vec<Uuid>, CoreError> {
        let ids = self.db(move |s| s.write(|tx| store::lanes::delete(tx, &name, &cards_go))).await?;
        self.after_lane_write(ids.clone());
        Ok(ids)
    }

    pub async fn tags(&self) -> Result<Vec<String>, CoreError> {
        self.db(|s| s.read(cards::tags)).await
    }

    // ---- optimistic writes ----

    pub(crate) fn after_write(&self, ids: Vec<Uuid>) {
        if !ids.is_empty() {
            self.sh.emit(EngineEvent::CardsChanged { ids });
        }
        self.sh.wake.notify_one();
        self.sh.schedule_status();
    }

    pub async fn create(&self, input: NewCardInput) -> Result<CardView, CoreError> {
        let view = self
            .db(move |s| {
                s.write(|tx| {
                    let view = writes::create_view(tx, &input)?;
                    let label = format!("create \"{}\"", view.title);
                    undo::apply::record(tx, &label, &[undo::Change::Appeared { card_id: view.id }])?;
                    Ok(view)
                })
            })
            .await?;
        self.after_write(vec![view.id]);
        self.auto_fetch_link(view.id, view.url.as_deref());
        Ok(view)
    }

    pub async fn update(&self, id: Uuid, changes: CardChanges) -> Result<CardView, CoreError> {
        self.update_on(id, changes, None).await
    }

    /// `update`, made on the confirmed version `base_version` (what an editor showed when it was
    /// opened; see `CardView::confirmed_version`). A remote change that landed since is merged
    /// with the edit or raised as a conflict — never overwritten by a stale form.
    pub async fn update_on(&self, id: Uuid, changes: CardChanges, base_version: Option<i64>) -> Result<CardView, CoreError> {
        self.update_labelled(id, changes, base_version, None).await
    }

    /// `update_on`, recorded as one undo step under `label` (default: `edit "title"`/`move …`).
    pub(crate) async fn update_labelled(&self, id: Uuid, changes: CardChanges, base_version: Option<i64>, label: Option<String>) -> Result<CardView, CoreError> {
        let new_url = changes.url.clone().flatten();
        let up = self
            // The view is read in the write's own transaction: one store round trip.
            .db(move |s| {
                s.write(|tx| {
                    let before = undo::apply::snapshot(tx, &[id])?;
                    let label = match label {
                        Some(l) => l,
                        // A card that is not live fails the update below: its label is never seen.
                        None => undo::engine::edit_label(before[0].1.as_ref().map_or("", |f| f.title.as_str()), &changes),
                    };
                    undo::apply::tracked_from(tx, &label, before, |tx| writes::update_view(tx, id, &changes, base_version, Priority::Normal))
                })
            })
            .await?;
        if let Some(conflict) = up.conflict {
            self.sh.emit(EngineEvent::ConflictUpdated { conflict });
        }
        if up.changed {
            self.after_write(vec![id]);
            self.auto_fetch_link(id, new_url.as_deref());
        }
        Ok(up.view)
    }

    pub async fn move_card(&self, id: Uuid, lane: String, position: Option<f64>) -> Result<CardView, CoreError> {
        let position = match position {
            Some(p) => p,
            None => {
                let l = lane.clone();
                self.db(move |s| s.read(|c| cards::next_position(c, &l))).await?
            }
        };
        self.update(id, CardChanges { lane: Some(lane), position: Some(position), ..Default::default() }).await
    }

    /// Move card `id` into `lane` between its new neighbours: directly after `before` (the card
    /// that will precede it) or, without one, directly before `after`; neither = end of the lane.
    /// The engine picks the position (the UI never does float arithmetic); when the neighbours
    /// leave no room it rebalances the lane (see `store::positions`), each change queued and synced.
    pub async fn move_card_between(&self, id: Uuid, lane: String, before: Option<Uuid>, after: Option<Uuid>) -> Result<CardView, CoreError> {
        let placed = self
            .db(move |s| {
                s.write(|tx| {
                    let label = format!("move \"{}\" to {lane}", undo::apply::title(tx, id)?);
                    // The moved card only: a rebalance of its neighbours keeps their order.
                    undo::apply::tracked(tx, &label, &[id], |tx| positions::move_between(tx, id, &lane, before, after))
                })
            })
            .await?;
        if let Some(conflict) = placed.updated.conflict {
            self.sh.emit(EngineEvent::ConflictUpdated { conflict });
        }
        let mut ids = placed.rebalanced;
        if placed.updated.changed {
            ids.push(id);
        }
        if !ids.is_empty() {
            self.after_write(ids);
        }
        Ok(placed.updated.view)
    }

    pub async fn delete(&self, id: Uuid) -> Result<(), CoreError> {
        self.db(move |s| {
            s.write(|tx| {
                let label = format!("delete \"{}\"", undo::apply::title(tx, id)?);
                undo::apply::tracked(tx, &label, &[id], |tx| writes::delete(tx, id, Priority::Normal))
            })
        })
        .await?;
        self.after_write(vec![id]);
        Ok(())
    }

    /// Bring a deleted card back from the Trash with its id and fields (offline too): through
    /// the outbox as `POST /v1/cards/{id}/restore` against the tombstone's version.
    pub async fn restore(&self, id: Uuid) -> Result<CardView, CoreError> {
        let view = self
            .db(move |s| {
                s.write(|tx| {
                    let label = format!("restore \"{}\"", undo::apply::title(tx, id)?);
                    undo::apply::tracked(tx, &label, &[id], |tx| writes::restore(tx, id, Priority::Normal))?;
                    cards::view(tx, id)?.ok_or(crate::error::StoreError::NotFound(id))
                })
            })
            .await?;
        self.after_write(vec![id]);
        Ok(view)
    }

    /// The Trash: deleted cards that can still be restored, most recently deleted first.
    pub async fn trash(&self) -> Result<Vec<deckhand_protocol::Card>, CoreError> {
        self.db(|s| s.read(crate::store::trash::list)).await
    }

    /// Apply `action` to `ids` in one transaction; progress goes out as `BulkProgress` events.
    pub async fn bulk(&self, ids: Vec<Uuid>, action: BulkAction, job_id: Option<String>) -> Result<u32, CoreError> {
        let events = self.sh.events.clone();
        let (n, affected) = self
            .db(move |s| {
                s.write(|tx| {
                    // The whole bulk action is ONE undo step.
                    let label = undo::engine::bulk_label(ids.len(), &action);
                    undo::apply::tracked(tx, &label, &ids, |tx| {
                        writes::bulk(tx, &ids, &action, |done, total| {
                            if let Some(job_id) = &job_id {
                                let _ = events.send(EngineEvent::BulkProgress { job_id: job_id.clone(), done, total });
                            }
                        })
                    })
                })
            })
            .await?;
        self.after_write(affected);
        Ok(n)
    }

    // ---- outbox ----

    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, CoreError> {
        self.db(|s| s.read(|c| outbox::entries(c, 10_000))).await
    }

    pub async fn retry(&self, op_id: i64) -> Result<(), CoreError> {
        let card = self
            .db(move |s| {
                s.write(|tx| {
                    let op = outbox::get(tx, op_id)?.ok_or(crate::error::StoreError::OpNotFound(op_id))?;
                    if !outbox::retry(tx, op_id)? {
                        return Err(crate::error::StoreError::InvalidState(format!("op {op_id} has not failed")));
                    }
                    Ok(op.card_id)
                })
            })
            .await?;
        self.after_write(vec![card]);
        Ok(())
    }

    pub async fn retry_all(&self) -> Result<u32, CoreError> {
        let n = self.db(|s| s.write(|tx| outbox::retry_all(tx))).await?;
        self.sh.wake.notify_one();
        self.sh.emit_status().await;
        Ok(n as u32)
    }

    /// Drop an op; the card rolls back to its confirmed copy (or disappears if never confirmed).
    pub async fn discard(&self, op_id: i64) -> Result<(), CoreError> {
        let card = self.db(move |s| s.write(|tx| writes::discard(tx, op_id))).await?;
        self.after_write(vec![card]);
        self.sh.emit_status().await;
        Ok(())
    }

    // ---- conflicts ----

    pub async fn conflicts(&self) -> Result<Vec<ConflictRecord>, CoreError> {
        self.db(|s| s.read(conflicts::list)).await
    }

    /// Settle a conflict. For `edit_vs_delete`, `keep_mine`/`merged` restore the card with its id
    /// (a restore op, then the chosen values as one edit on the revived card).
    pub async fn resolve(&self, card_id: Uuid, resolution: Resolution) -> Result<(), CoreError> {
        let ids = self.db(move |s| s.write(|tx| writes::resolve(tx, card_id, &resolution))).await?;
        self.sh.emit(EngineEvent::ConflictResolved { card_id });
        self.after_write(ids);
        self.sh.emit_status().await;
        Ok(())
    }

    // ---- sync control ----

    pub async fn pause(&self) {
        self.sh.rt().paused = true;
        if self.sh.rt().server.is_some() {
            self.sh.set_connection(ConnectionState::Paused);
        }
        self.sh.wake.notify_one();
        self.sh.wake_stream.notify_one();
    }

    pub async fn resume(&self) {
        let was_auth = {
            let mut rt = self.sh.rt();
            rt.paused = false;
            rt.server.is_some() && matches!(rt.connection, ConnectionState::Paused | ConnectionState::AuthRequired)
        };
        if was_auth {
            self.sh.set_connection(ConnectionState::Connecting);
            self.sh.request_pull();
        }
        self.sh.wake.notify_one();
        self.sh.wake_stream.notify_one();
    }

    /// Catch up and drain now: every queued op becomes due, a catch-up pull is requested.
    /// A store error making the ops due is returned (the pull is still requested).
    pub async fn sync_now(&self) -> Result<(), CoreError> {
        let due = self.db(|s| s.write(|tx| outbox::make_all_due(tx))).await;
        if self.sh.connection() == ConnectionState::Offline {
            self.sh.wake.notify_one();
        }
        self.sh.request_pull();
        due.map(|_| ())
    }

    pub async fn status(&self) -> Result<SyncStatus, CoreError> {
        Ok(self.sh.status().await?)
    }

    pub async fn history(&self, limit: u32) -> Result<Vec<HistoryEntry>, CoreError> {
        self.db(move |s| s.read(|c| history::list(c, limit))).await
    }

    /// Change (or remove) the server; reconnects without a restart. Queued ops are kept.
    pub async fn set_server(&self, server: Option<ServerSettings>) {
        // First: a claim of the old session still running on the store thread claims nothing
        // once this is visible, so the requeue below cannot be overtaken by it.
        self.sh.rt().session += 1;
        self.shutdown().await;
        // Requests of the stopped session were cancelled: their ops go back to the queue.
        if let Err(e) = self.sh.db(|s| s.write(|tx| outbox::reset_in_flight(tx))).await {
            tracing::error!(error = %e, "could not requeue in-flight ops");
        }
        self.sh.rt().server = server;
        if let Err(e) = self.start_session() {
            tracing::error!(error = %e, "could not start sync");
        }
    }

    pub async fn set_drain_window(&self, n: usize) {
        self.sh.rt().drain_window = n.max(1);
        self.sh.wake.notify_one();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.sh.events.subscribe()
    }

    /// Resolves when the outbox is empty and the change feed is caught up. Fails at once when that
    /// cannot happen without the user (conflicts, failed ops, auth, no server), or at the timeout.
    pub async fn wait_idle(&self, timeout: Duration) -> Result<(), IdleError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Polled every 10 ms: index lookups only; the full count is taken when it is reported.
            let r = self.sh.db(|s| s.read(|c| Ok((outbox::idle_probe(c)?, conflicts::count(c)?)))).await;
            let ((any_ops, failed), nconf) = r.map_err(|e| IdleError::Storage(e.to_string()))?;
            // A send still finishing, or the catch-up after a burst of writes, still writes the
            // cursor: idle means it covers this engine's own writes, and nothing is left to write.
            let (conn, caught_up, pull) = {
                let rt = self.sh.rt();
                (rt.connection, rt.caught_up && rt.sends_running == 0 && !rt.feed_behind, rt.pull_requested)
            };
            if nconf > 0 {
                return Err(IdleError::Conflicts(nconf));
            }
            if failed > 0 {
                return Err(IdleError::Failed(failed));
            }
            let pending = || async {
                // Card ops and lane ops alike.
                self.sh.db(|s| s.read(|c| Ok(outbox::counts(c)?.total() + store::lanes::pending(c)?))).await.map_err(|e| IdleError::Storage(e.to_string()))
            };
            match conn {
                ConnectionState::AuthRequired => return Err(IdleError::AuthRequired),
                ConnectionState::Disabled => {
                    return if !any_ops { Ok(()) } else { Err(IdleError::Disabled { pending: pending().await? }) };
                }
                ConnectionState::Paused => return Err(IdleError::Paused { pending: pending().await? }),
                _ => {}
            }
            if !any_ops && caught_up && !pull && conn == ConnectionState::Online {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let pending = pending().await?;
                return Err(if conn == ConnectionState::Offline {
                    IdleError::Offline { pending }
                } else {
                    IdleError::Timeout { pending, caught_up }
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // ---- recovery (docs/engine-api.md, "Recovery") ----

    /// The last time the local database was found corrupt, moved aside and rebuilt (persisted).
    pub async fn recovery(&self) -> Result<Option<RecoveryReport>, CoreError> {
        self.db(|s| s.read(store::recovery::last_report)).await
    }

    /// The report when THIS open found the database corrupt and rebuilt it (for a face to say so).
    pub fn recovered_at_open(&self) -> Option<&RecoveryReport> {
        self.recovered.as_ref()
    }

    /// Ops read back from the corrupt database's outbox, not yet requeued or discarded.
    pub async fn salvaged(&self) -> Result<Vec<SalvagedOp>, CoreError> {
        self.db(|s| s.read(store::recovery::list)).await
    }

    /// Queue salvaged ops again (an empty list = all of them) as new local edits on top of the
    /// rebuilt database; call it once the rebuild has synced (`wait_idle`). Ops that no longer
    /// apply are dropped and counted as skipped.
    pub async fn requeue_salvaged(&self, ids: Vec<i64>) -> Result<RequeueReport, CoreError> {
        // Against a half-pulled rebuild an edit of a card not pulled yet would look like an edit
        // of a deleted card: the catch-up comes first.
        self.caught_up(Duration::from_secs(30)).await?;
        let (report, touched) = self
            .db(move |s| {
                s.write(|tx| {
                    let ids = if ids.is_empty() { store::recovery::ids(tx)? } else { ids };
                    store::recovery::requeue(tx, &ids)
                })
            })
            .await?;
        self.after_write(touched);
        self.sh.emit_status().await;
        Ok(report)
    }

    /// Resolves once the change feed has been pulled to its end (at once without a server).
    async fn caught_up(&self, timeout: Duration) -> Result<(), CoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        {
            let rt = self.sh.rt();
            if rt.server.is_none() || (rt.caught_up && !rt.pull_requested) {
                return Ok(());
            }
        }
        self.sh.request_pull();
        loop {
            {
                let rt = self.sh.rt();
                if rt.caught_up && !rt.pull_requested {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(CoreError::InvalidState(
                    "the local database has not caught up with the server yet (offline?); try again once sync is online".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Drop salvaged ops for good (an empty list = all of them). Returns how many were dropped.
    pub async fn discard_salvaged(&self, ids: Vec<i64>) -> Result<u32, CoreError> {
        self.db(move |s| {
            s.write(|tx| {
                let ids = if ids.is_empty() { store::recovery::ids(tx)? } else { ids };
                store::recovery::discard(tx, &ids)
            })
        })
        .await
    }

    /// Change the database size cap (`EngineConfig::max_db_bytes`); `None` lifts it.
    pub async fn set_max_db_bytes(&self, bytes: Option<u64>) -> Result<(), CoreError> {
        self.db(move |s| s.set_max_db_bytes(bytes)).await
    }

    /// Every persisted counter, by name.
    pub async fn metrics(&self) -> Result<Vec<(String, i64)>, CoreError> {
        self.db(|s| s.read(history::metrics)).await
    }

    /// Persisted counter (e.g. `ops_succeeded`, `ops_failed`, `version_conflicts`).
    pub async fn metric(&self, name: &str) -> Result<i64, CoreError> {
        let name = name.to_string();
        self.db(move |s| s.read(|c| history::metric(c, &name))).await
    }
}

/// A server URL must be absolute http(s).
pub fn check_server(s: &ServerSettings) -> Result<(), CoreError> {
    match reqwest::Url::parse(&s.url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.has_host() => Ok(()),
        Ok(u) => Err(CoreError::Config(format!("server URL must be http or https, not {}", u.scheme()))),
        Err(e) => Err(CoreError::Config(format!("server URL {:?}: {e}", s.url))),
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for t in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            t.abort();
        }
    }
}
