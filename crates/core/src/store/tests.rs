use chrono::Utc;
use deckhand_protocol::{Card, CardChanges};
use uuid::Uuid;

use super::outbox::{self, OpPayload};
use super::*;
use crate::model::{BulkAction, CardFields, ListQuery, NewCardInput, OpState, Priority, Resolution, SyncState, ConflictKind};

fn store() -> Store {
    Store::open_in_memory().unwrap()
}

fn input(title: &str) -> NewCardInput {
    NewCardInput { title: title.into(), ..Default::default() }
}

fn create(s: &Store, title: &str) -> Uuid {
    s.write(|tx| writes::create(tx, &input(title))).unwrap()
}

fn ops(s: &Store, id: Uuid) -> Vec<outbox::Op> {
    s.read(|c| outbox::for_card(c, id)).unwrap()
}

fn title(t: &str) -> CardChanges {
    CardChanges { title: Some(t.into()), ..Default::default() }
}

/// Pretend the server confirmed the card's queued ops (as the drain would).
fn confirm_all(s: &Store, id: Uuid, version: i64) -> Card {
    s.write(|tx| {
        let l = cards::get_local(tx, id)?.unwrap();
        let card = server_card(id, &l.fields, version);
        for op in outbox::for_card(tx, id)? {
            apply::succeeded(tx, &op, &card)?;
        }
        Ok(card)
    })
    .unwrap()
}

fn server_card(id: Uuid, f: &crate::model::CardFields, version: i64) -> Card {
    Card {
        id,
        title: f.title.clone(),
        body: f.body.clone(),
        url: f.url.clone(),
        tags: f.tags.clone(),
        lane: f.lane.clone(),
        position: f.position,
        pinned: f.pinned,
        version,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        deleted: false,
        link_meta: f.link_meta.clone(),
    }
}

#[test]
fn create_is_visible_pending_and_queued() {
    let s = store();
    let id = create(&s, "hello");
    assert_eq!(id.get_version_num(), 7);
    let v = s.read(|c| cards::view(c, id)).unwrap().unwrap();
    assert_eq!(v.title, "hello");
    assert_eq!(v.lane, "inbox");
    assert_eq!(v.position, 1.0);
    assert_eq!(v.sync_state, SyncState::Pending);
    assert_eq!(v.confirmed_version, None);
    let o = ops(&s, id);
    assert_eq!(o.len(), 1);
    assert!(matches!(o[0].payload, OpPayload::Create(_)));
    // next card goes to the end of the lane
    let id2 = create(&s, "second");
    assert_eq!(s.read(|c| cards::view(c, id2)).unwrap().unwrap().position, 2.0);
}

#[test]
fn validation_refuses_before_queueing() {
    let s = store();
    let e = s.write(|tx| writes::create(tx, &input("   "))).unwrap_err();
    assert!(matches!(e, crate::error::StoreError::Validation(_)));
    assert_eq!(crate::error::CoreError::from(e).kind(), "validation");
    let id = create(&s, "ok");
    let bad = CardChanges { url: Some(Some("ftp://x".into())), ..Default::default() };
    assert!(s.write(|tx| writes::update(tx, id, &bad, Priority::Normal)).is_err());
    assert_eq!(ops(&s, id).len(), 1);
}

#[test]
fn create_then_update_coalesces_into_the_create() {
    let s = store();
    let id = create(&s, "a");
    s.write(|tx| writes::update(tx, id, &title("b"), Priority::Normal)).unwrap();
    let o = ops(&s, id);
    assert_eq!(o.len(), 1);
    match &o[0].payload {
        OpPayload::Create(n) => assert_eq!(n.title, "b"),
        p => panic!("{p:?}"),
    }
}

#[test]
fn create_then_delete_vanishes() {
    let s = store();
    let id = create(&s, "a");
    s.write(|tx| writes::delete(tx, id, Priority::Normal)).unwrap();
    assert!(ops(&s, id).is_empty());
    assert!(s.read(|c| cards::view(c, id)).unwrap().is_none());
}

#[test]
fn update_update_coalesces_and_update_delete_becomes_delete() {
    let s = store();
    let id = create(&s, "a");
    confirm_all(&s, id, 1);
    assert_eq!(s.read(|c| cards::view(c, id)).unwrap().unwrap().sync_state, SyncState::Synced);
    s.write(|tx| writes::update(tx, id, &title("b"), Priority::Normal)).unwrap();
    let pin = CardChanges { pinned: Some(true), ..Default::default() };
    s.write(|tx| writes::update(tx, id, &pin, Priority::Normal)).unwrap();
    let o = ops(&s, id);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].base_version, Some(1));
    match &o[0].payload {
        OpPayload::Update(c) => assert_eq!(c.field_names(), ["title", "pinned"]),
        p => panic!("{p:?}"),
    }
    s.write(|tx| writes::delete(tx, id, Priority::Normal)).unwrap();
    let o = ops(&s, id);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].payload, OpPayload::Delete);
}

#[test]
fn sent_ops_are_never_coalesced() {
    let s = store();
    let id = create(&s, "a");
    let op = ops(&s, id)[0].clone();
    s.write(|tx| outbox::mark_in_flight(tx, op.op_id)).unwrap();
    s.write(|tx| writes::update(tx, id, &title("b"), Priority::Normal)).unwrap();
    let o = ops(&s, id);
    assert_eq!(o.len(), 2);
    assert_eq!(o[0].payload, op.payload);
    assert_eq!(o[1].base_version, None, "made before the card was ever confirmed");
    assert_eq!(o[1].base.as_ref().map(|b| b.title.as_str()), Some("a"), "an op keeps the fields it was made on");
    // deleting now must append a delete (the create may have reached the server)
    s.write(|tx| outbox::mark_retry(tx, &op, 0, &crate::model::OpError { code: "timeout".into(), message: "t".into(), status: None }, false)).unwrap();
    s.write(|tx| writes::delete(tx, id, Priority::Normal)).unwrap();
    let o = ops(&s, id);
    assert_eq!(o.len(), 2);
    assert!(matches!(o[0].payload, OpPayload::Create(_)));
    assert_eq!(o[1].payload, OpPayload::Delete);
}

#[test]
fn idempotency_key_is_made_once_per_op() {
    let s = store();
    let id = create(&s, "a");
    let k1 = ops(&s, id)[0].idempotency_key.clone();
    s.write(|tx| writes::update(tx, id, &title("b"), Priority::Normal)).unwrap();
    assert_eq!(ops(&s, id)[0].idempotency_key, k1);
    assert!(Uuid::parse_str(&k1).is_ok());
}

#[test]
fn list_filters_by_lane_tag_and_text() {
    let s = store();
    let a = s
        .write(|tx| {
            writes::create(
                tx,
                &NewCardInput {
                    title: "Buy oat milk".into(),
                    body: Some("from the corner shop".into()),
                    tags: Some(vec!["errand".into(), "food".into()]),
                    lane: Some("todo".into()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    create(&s, "Write report");
    create(&s, "Café résumé");
    let all = s.read(|c| cards::list(c, &ListQuery::default())).unwrap();
    assert_eq!(all.total, 3);
    let q = |q: ListQuery| s.read(|c| cards::list(c, &q)).unwrap();
    assert_eq!(q(ListQuery { lane: Some("todo".into()), ..Default::default() }).items[0].id, a);
    assert_eq!(q(ListQuery { tag: Some("food".into()), ..Default::default() }).total, 1);
    assert_eq!(q(ListQuery { text: Some("corn".into()), ..Default::default() }).items[0].id, a);
    assert_eq!(q(ListQuery { text: Some("cafe".into()), ..Default::default() }).total, 1);
    assert_eq!(q(ListQuery { text: Some("\"report".into()), ..Default::default() }).total, 1);
    assert_eq!(q(ListQuery { text: Some("errand".into()), ..Default::default() }).total, 1);
    assert_eq!(q(ListQuery { limit: Some(2), offset: Some(2), ..Default::default() }).items.len(), 1);
    // FTS follows updates and deletes
    s.write(|tx| writes::update(tx, a, &CardChanges { body: Some("supermarket".into()), ..Default::default() }, Priority::Normal)).unwrap();
    assert_eq!(q(ListQuery { text: Some("corner".into()), ..Default::default() }).total, 0);
    assert_eq!(q(ListQuery { text: Some("super".into()), ..Default::default() }).total, 1);
    s.write(|tx| writes::delete(tx, a, Priority::Normal)).unwrap();
    assert_eq!(q(ListQuery { text: Some("super".into()), ..Default::default() }).total, 0);
    assert!(s.read(cards::tags).unwrap().is_empty());
    let lanes = s.read(cards::lanes).unwrap();
    assert_eq!(lanes.len(), 1);
    assert_eq!(lanes[0].count, 2);
}

#[test]
fn bulk_applies_and_reports_progress() {
    let s = store();
    let ids: Vec<Uuid> = (0..5).map(|i| create(&s, &format!("c{i}"))).collect();
    let mut seen = Vec::new();
    let (n, _) = s
        .write(|tx| writes::bulk(tx, &ids, &BulkAction::AddTag { tag: "x".into() }, |d, t| seen.push((d, t))))
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(seen.last(), Some(&(5, 5)));
    assert_eq!(s.read(cards::tags).unwrap(), ["x"]);
    let (n, _) = s.write(|tx| writes::bulk(tx, &ids, &BulkAction::Move { lane: "done".into() }, |_, _| {})).unwrap();
    assert_eq!(n, 5);
    assert_eq!(s.read(cards::lanes).unwrap()[0].lane, "done");
}

#[test]
fn remote_changes_rebase_pending_edits_and_ignore_echoes() {
    let s = store();
    let id = create(&s, "a");
    let v1 = confirm_all(&s, id, 1);
    s.write(|tx| writes::update(tx, id, &title("mine"), Priority::Normal)).unwrap();
    // someone else pins it (v2): local shows their pin plus my pending title
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.pinned = true;
    let out = s.write(|tx| remote::apply_remote(tx, &v2, Some(7))).unwrap();
    assert!(out.changed);
    let v = s.read(|c| cards::view(c, id)).unwrap().unwrap();
    assert_eq!((v.title.as_str(), v.pinned, v.confirmed_version), ("mine", true, Some(2)));
    assert_eq!(s.read(sync_state::cursor).unwrap(), 7);
    // an older copy (echo) is ignored
    let out = s.write(|tx| remote::apply_remote(tx, &v1, Some(8))).unwrap();
    assert!(out.ignored);
    assert_eq!(s.read(|c| cards::view(c, id)).unwrap().unwrap().title, "mine");
}

#[test]
fn a_local_delete_is_never_resurrected() {
    let s = store();
    let id = create(&s, "a");
    let v1 = confirm_all(&s, id, 1);
    s.write(|tx| writes::delete(tx, id, Priority::Normal)).unwrap();
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.title = "edited elsewhere".into();
    s.write(|tx| remote::apply_remote(tx, &v2, None)).unwrap();
    assert!(s.read(|c| cards::view(c, id)).unwrap().is_none());
}

#[test]
fn remote_delete_of_a_locally_edited_card_is_a_conflict() {
    let s = store();
    let id = create(&s, "a");
    let v1 = confirm_all(&s, id, 1);
    s.write(|tx| writes::update(tx, id, &title("mine"), Priority::Normal)).unwrap();
    let mut t = v1.clone();
    t.version = 2;
    t.deleted = true;
    let out = s.write(|tx| remote::apply_remote(tx, &t, None)).unwrap();
    let rec = out.conflict.expect("conflict");
    assert_eq!(rec.kind, ConflictKind::EditVsDelete);
    let v = s.read(|c| cards::view(c, id)).unwrap().unwrap();
    assert_eq!((v.title.as_str(), v.sync_state), ("mine", SyncState::Conflict));
    // keep mine: restored under its own id (a restore of the tombstone, then my values as one
    // edit made on the revived card)
    let ids = s.write(|tx| writes::resolve(tx, id, &Resolution::KeepMine)).unwrap();
    assert_eq!(ids, vec![id]);
    let restored = s.read(|c| cards::view(c, id)).unwrap().unwrap();
    assert_eq!(restored.title, "mine");
    let q = ops(&s, id);
    assert_eq!(q.len(), 2);
    assert!(matches!(q[0].payload, OpPayload::Restore));
    assert_eq!(q[0].base_version, Some(2));
    assert!(matches!(&q[1].payload, OpPayload::Update(ch) if ch.title.as_deref() == Some("mine")));
    assert!(s.read(conflicts::list).unwrap().is_empty());
}

#[test]
fn remote_delete_without_local_edits_removes_the_card() {
    let s = store();
    let id = create(&s, "a");
    let mut t = confirm_all(&s, id, 1);
    t.version = 2;
    t.deleted = true;
    s.write(|tx| remote::apply_remote(tx, &t, None)).unwrap();
    assert!(s.read(|c| cards::view(c, id)).unwrap().is_none());
}

#[test]
fn version_conflict_merges_disjoint_and_parks_overlapping_edits() {
    let s = store();
    let id = create(&s, "a");
    let v1 = confirm_all(&s, id, 1);
    s.write(|tx| writes::update(tx, id, &title("mine"), Priority::Normal)).unwrap();
    let op = ops(&s, id)[0].clone();
    // disjoint: they pinned
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.pinned = true;
    let out = s.write(|tx| apply::version_conflict(tx, &op, &v2)).unwrap();
    assert!(matches!(out, apply::ConflictOutcome::Rebased));
    let op2 = ops(&s, id)[0].clone();
    assert_eq!(op2.base_version, Some(2));
    assert_ne!(op2.idempotency_key, op.idempotency_key);
    assert_eq!(op2.payload, OpPayload::Update(title("mine")));
    // overlapping: they retitled
    let mut v3 = v2.clone();
    v3.version = 3;
    v3.title = "theirs".into();
    let out = s.write(|tx| apply::version_conflict(tx, &op2, &v3)).unwrap();
    let apply::ConflictOutcome::Conflict(rec) = out else { panic!("{out:?}") };
    assert_eq!(rec.fields, ["title"]);
    assert_eq!(ops(&s, id)[0].state, OpState::Conflict);
    // merged resolution rewrites the op against theirs
    let mut f = rec.suggested.clone();
    f.title = "both".into();
    s.write(|tx| writes::resolve(tx, id, &Resolution::Merged { fields: f })).unwrap();
    let op3 = ops(&s, id)[0].clone();
    assert_eq!((op3.state, op3.base_version), (OpState::Pending, Some(3)));
    assert_eq!(op3.payload, OpPayload::Update(title("both")));
    assert_eq!(s.read(|c| cards::view(c, id)).unwrap().unwrap().title, "both");
}

#[test]
fn discard_rolls_back_to_confirmed_or_removes() {
    let s = store();
    let id = create(&s, "a");
    confirm_all(&s, id, 1);
    s.write(|tx| writes::update(tx, id, &title("b"), Priority::Normal)).unwrap();
    let op = ops(&s, id)[0].op_id;
    s.write(|tx| writes::discard(tx, op)).unwrap();
    assert_eq!(s.read(|c| cards::view(c, id)).unwrap().unwrap().title, "a");
    let id2 = create(&s, "never confirmed");
    let op = ops(&s, id2)[0].op_id;
    s.write(|tx| writes::discard(tx, op)).unwrap();
    assert!(s.read(|c| cards::view(c, id2)).unwrap().is_none());
}

#[test]
fn history_is_bounded_and_metrics_add_up() {
    let s = store();
    s.write(|tx| {
        for i in 0..1200 {
            history::add(tx, "test", None, &format!("{i}"))?;
        }
        history::metric_add(tx, "m", 2)?;
        history::metric_add(tx, "m", 3)
    })
    .unwrap();
    let n: i64 = s.read(|c| Ok(c.query_row("SELECT count(*) FROM history", [], |r| r.get(0))?)).unwrap();
    assert!(n <= history::HISTORY_MAX + 50, "{n}");
    assert_eq!(s.read(|c| history::list(c, 1)).unwrap()[0].message, "1199");
    assert_eq!(s.read(|c| history::metric(c, "m")).unwrap(), 5);
}

#[test]
fn reopening_refuses_a_changed_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deckhand.db");
    drop(Store::open(&path).unwrap());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("UPDATE schema_migrations SET sha256 = 'x'", []).unwrap();
    }
    let e = Store::open(&path).err().unwrap();
    assert_eq!(crate::error::CoreError::from(e).kind(), "corrupt_database");
}

/// Listing, filters and search stay correct at 100,000 cards (their speed is P4/P6 in `make bench`).
#[test]
fn listing_filters_and_search_hold_at_100k_cards() {
    let s = store();
    // Bulk-load through SQL (the triggers still maintain FTS and tags); ids are random v4 here.
    s.write(|tx| {
        tx.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
             INSERT INTO cards(id, title, body, url, tags, lane, position, pinned, created_at, updated_at)
             SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2)
                    || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
                    'card ' || i || ' alpha' || (i % 100), '', NULL, json_array('t' || (i % 50)),
                    CASE i % 3 WHEN 0 THEN 'todo' WHEN 1 THEN 'doing' ELSE 'done' END, i, 0,
                    '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'
             FROM n",
        )?;
        Ok(())
    })
    .unwrap();
    let q = |q: ListQuery| s.read(|c| cards::list(c, &q)).unwrap();
    let p = q(ListQuery { lane: Some("doing".into()), limit: Some(50), offset: Some(10_000), ..Default::default() });
    assert_eq!((p.items.len(), p.total), (50, 33_333));
    assert!(p.items.windows(2).all(|w| w[0].position < w[1].position), "a lane lists by position");
    let p = q(ListQuery { text: Some("alpha42".into()), limit: Some(50), ..Default::default() });
    assert_eq!(p.total, 1000);
    let p = q(ListQuery { tag: Some("t7".into()), limit: Some(50), ..Default::default() });
    assert_eq!(p.total, 2000);
    assert!(p.items.iter().all(|v| v.tags == ["t7"]));
    let p = q(ListQuery { limit: Some(100), ..Default::default() });
    assert_eq!(p.items.len(), 100);
    let p = q(ListQuery { text: Some("card".into()), limit: Some(100), ..Default::default() });
    assert_eq!(p.total, 100_000);
    let id = p.items[0].id;
    assert!(s.write(|tx| writes::update(tx, id, &title("edited"), Priority::Normal)).unwrap());
    assert_eq!(q(ListQuery { text: Some("edited".into()), ..Default::default() }).items[0].id, id);
    let (lanes, tags) = (s.read(cards::lanes).unwrap(), s.read(cards::tags).unwrap());
    assert_eq!((lanes.len(), tags.len()), (3, 50));
}

#[test]
fn a_conflict_whose_current_already_has_my_values_is_success() {
    let s = store();
    let id = create(&s, "a");
    let v1 = confirm_all(&s, id, 1);
    s.write(|tx| writes::update(tx, id, &title("b"), Priority::Normal)).unwrap();
    let op = ops(&s, id)[0].clone();
    // e.g. the first attempt landed, its idempotency record expired, the retry got 409
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.title = "b".into();
    let out = s.write(|tx| apply::version_conflict(tx, &op, &v2)).unwrap();
    assert!(matches!(out, apply::ConflictOutcome::Done), "{out:?}");
    assert!(ops(&s, id).is_empty());
    let v = s.read(|c| cards::view(c, id)).unwrap().unwrap();
    assert_eq!((v.sync_state, v.confirmed_version), (SyncState::Synced, Some(2)));
}

#[test]
fn a_create_answered_409_already_exists_is_confirmed() {
    let s = store();
    let id = create(&s, "a");
    let op = ops(&s, id)[0].clone();
    let l = s.read(|c| cards::get_local(c, id)).unwrap().unwrap();
    let current = server_card(id, &l.fields, 1);
    s.write(|tx| apply::version_conflict(tx, &op, &current)).unwrap();
    assert!(ops(&s, id).is_empty());
    assert_eq!(s.read(|c| cards::view(c, id)).unwrap().unwrap().confirmed_version, Some(1));
}

#[test]
fn high_priority_heads_go_first_and_a_card_sends_one_op_at_a_time() {
    let s = store();
    let a = create(&s, "a");
    let b = create(&s, "b");
    // a second op for `a` never shows up while its create is the head
    let a_create = ops(&s, a)[0].op_id;
    s.write(|tx| outbox::mark_in_flight(tx, a_create)).unwrap();
    s.write(|tx| writes::update(tx, a, &title("a2"), Priority::Normal)).unwrap();
    // `c` is restored by a resolution (high priority)
    let c = s.write(|tx| {
        let id = writes::create(tx, &input("c"))?;
        tx.execute("UPDATE outbox SET priority = 0 WHERE card_id = ?1", [id.to_string()])?;
        Ok(id)
    })
    .unwrap();
    let heads = s.read(|conn| outbox::ready_heads(conn, now_ms(), 10)).unwrap();
    let cards: Vec<Uuid> = heads.iter().map(|o| o.card_id).collect();
    assert_eq!(cards, [c, b]);
    // backed-off ops wait
    let e = crate::model::OpError { code: "x".into(), message: "x".into(), status: Some(500) };
    s.write(|tx| outbox::mark_retry(tx, &heads[1], now_ms() + 60_000, &e, false)).unwrap();
    let heads = s.read(|conn| outbox::ready_heads(conn, now_ms(), 10)).unwrap();
    assert_eq!(heads.len(), 1);
    assert!(s.read(outbox::next_due).unwrap().is_some());
}

/// Found by the chaos suite: a delete (or an update queued behind another op) whose first attempt
/// reached the server but whose answer was lost, retried after the feed had brought a newer
/// confirmed copy (e.g. its own tombstone), went out with a new `base_version` under the same
/// Idempotency-Key → 422 `idempotency_key_reused` → failed for good. The base is now pinned at the
/// first send.
#[test]
fn a_sent_op_keeps_its_base_version_on_retry() {
    let s = store();
    let id = create(&s, "a");
    let v1 = confirm_all(&s, id, 1);
    s.write(|tx| writes::delete(tx, id, Priority::Normal)).unwrap();
    // First send: the base is chosen and stored.
    let mut op = ops(&s, id)[0].clone();
    s.write(|tx| {
        outbox::prepare(tx, &mut op, Some(&v1))?;
        outbox::mark_in_flight(tx, op.op_id)
    })
    .unwrap();
    assert_eq!(op.base_version, Some(1));
    // The answer is lost; the feed brings the tombstone at v2 before the retry.
    let mut tomb = v1.clone();
    tomb.version = 2;
    tomb.deleted = true;
    s.write(|tx| remote::apply_remote(tx, &tomb, Some(7))).unwrap();
    s.write(|tx| outbox::mark_retry(tx, &op, 0, &crate::model::OpError { code: "timeout".into(), message: "t".into(), status: None }, false)).unwrap();
    let mut retry = ops(&s, id)[0].clone();
    assert!(retry.sent);
    let conf = s.read(|c| remote::confirmed(c, id)).unwrap();
    s.write(|tx| outbox::prepare(tx, &mut retry, conf.as_ref())).unwrap();
    assert_eq!(retry.base_version, Some(1), "a retry repeats the first request");
    assert_eq!(retry.idempotency_key, op.idempotency_key);
    assert_eq!(ops(&s, id)[0].base_version, Some(1));
}

#[test]
fn an_update_queued_behind_another_op_keeps_its_request_once_sent() {
    let s = store();
    let id = create(&s, "a");
    let create_op = ops(&s, id)[0].clone();
    s.write(|tx| outbox::mark_in_flight(tx, create_op.op_id)).unwrap();
    s.write(|tx| writes::update(tx, id, &title("b"), Priority::Normal)).unwrap();
    let v1 = confirm_all_but_last(&s, id, 1);
    let mut upd = ops(&s, id)[0].clone();
    assert_eq!(upd.base_version, None);
    s.write(|tx| {
        outbox::prepare(tx, &mut upd, Some(&v1))?;
        outbox::mark_in_flight(tx, upd.op_id)
    })
    .unwrap();
    assert_eq!(upd.base_version, Some(1), "made on the create's own result: pinned to v1");
    let mut v2 = v1.clone();
    v2.version = 2;
    s.write(|tx| remote::put_confirmed(tx, &v2)).unwrap();
    let mut retry = ops(&s, id)[0].clone();
    s.write(|tx| outbox::prepare(tx, &mut retry, Some(&v2))).unwrap();
    assert_eq!(retry.base_version, Some(1));
    assert_eq!(retry.base.map(|b| b.title), Some("a".to_string()), "merge base is what the request was based on");
}

/// Confirm only the card's first op (the create) at `version`.
fn confirm_all_but_last(s: &Store, id: Uuid, version: i64) -> Card {
    s.write(|tx| {
        let op = outbox::for_card(tx, id)?.remove(0);
        let OpPayload::Create(n) = &op.payload else { panic!("first op is the create") };
        let card = server_card(id, &CardFields::from_new_card(n), version);
        apply::succeeded(tx, &op, &card)?;
        Ok(card)
    })
    .unwrap()
}

#[test]
fn deleting_a_card_drops_its_refused_edits() {
    let s = store();
    let id = create(&s, "a");
    confirm_all(&s, id, 1);
    s.write(|tx| writes::update(tx, id, &title("refused"), Priority::Normal)).unwrap();
    let op = ops(&s, id)[0].clone();
    let e = crate::model::OpError { code: "validation_failed".into(), message: "no".into(), status: Some(422) };
    s.write(|tx| outbox::mark_failed(tx, op.op_id, &e)).unwrap();
    s.write(|tx| writes::delete(tx, id, Priority::Normal)).unwrap();
    let o = ops(&s, id);
    assert_eq!(o.len(), 1);
    assert_eq!((o[0].payload.clone(), o[0].state), (OpPayload::Delete, OpState::Pending));
}

#[test]
fn create_view_equals_the_view_read_back() {
    let s = store();
    let inp = NewCardInput { title: "built".into(), tags: Some(vec!["a".into(), "b".into()]), url: Some("https://x.example/".into()), ..Default::default() };
    let built = s.write(|tx| writes::create_view(tx, &inp)).unwrap();
    let read = s.read(|c| cards::view(c, built.id)).unwrap().unwrap();
    assert_eq!(built, read);
    assert_eq!(built.sync_state, SyncState::Pending);
}

#[test]
fn a_broad_text_search_pages_in_lane_and_position_order() {
    let s = store();
    // 1,500 cards over three lanes with shuffled positions; 1,200 of them match "broad" (enough for
    // `walk_is_cheaper` to choose the page walk), 300 match only "rare". About four cards
    // share each position in a lane: pages must cut inside those ties in id order.
    s.write(|tx| {
        for i in 0..1500u32 {
            let title = if i % 5 == 4 { format!("rare {i}") } else { format!("broad item {i}") };
            let lane = ["inbox", "doing", "done"][(i % 3) as usize].to_string();
            let position = ((i * 7919) % 1500 / 12) as f64;
            writes::create(tx, &NewCardInput { title, lane: Some(lane), position: Some(position), ..Default::default() })?;
        }
        Ok(())
    })
    .unwrap();
    // Ids that do not follow insertion order (as cards received from other devices have), so
    // that ordering ties by rowid instead of id shows.
    s.read(|c| Ok(c.execute_batch("UPDATE cards SET id = printf('%08x-0000-7000-8000-000000000000', 1000000 - rid * 7919 % 1500)")?)).unwrap();
    let all = s.read(|c| cards::list(c, &ListQuery { limit: Some(1000), offset: Some(0), ..Default::default() })).unwrap();
    let mut everything = all.items.clone();
    everything.extend(s.read(|c| cards::list(c, &ListQuery { limit: Some(1000), offset: Some(1000), ..Default::default() })).unwrap().items);
    assert_eq!(everything.len(), 1500);
    let expected: Vec<Uuid> = everything.iter().filter(|v| v.title.starts_with("broad")).map(|v| v.id).collect();
    for (offset, limit) in [(0u32, 100u32), (150, 50), (151, 7), (1180, 100), (1300, 10), (1197, 1)] {
        let page = s.read(|c| cards::list(c, &ListQuery { text: Some("bro".into()), limit: Some(limit), offset: Some(offset), ..Default::default() })).unwrap();
        assert_eq!(page.total, 1200);
        let want: Vec<Uuid> = expected.iter().skip(offset as usize).take(limit as usize).copied().collect();
        assert_eq!(page.items.iter().map(|v| v.id).collect::<Vec<_>>(), want, "offset {offset} limit {limit}");
    }
    let rare = s.read(|c| cards::list(c, &ListQuery { text: Some("rare".into()), limit: Some(500), ..Default::default() })).unwrap();
    assert_eq!((rare.total, rare.items.len()), (300, 300));
}

#[test]
fn update_view_equals_the_view_read_back() {
    let s = store();
    let id = create(&s, "v1");
    confirm_all(&s, id, 1);
    let check = |changes: CardChanges| {
        let up = s.write(|tx| writes::update_view(tx, id, &changes, None, Priority::Normal)).unwrap();
        let read = s.read(|c| cards::view(c, id)).unwrap().unwrap();
        assert_eq!(up.view, read);
        (up.changed, up.view)
    };
    let (changed, v) = check(title("v2"));
    assert!(changed);
    assert_eq!((v.sync_state, v.confirmed_version), (SyncState::Pending, Some(1)));
    // Nothing to change: the stored view, unchanged.
    assert!(!check(title("v2")).0);
    // A failed op shows through the view of a later edit, with its error.
    let op = ops(&s, id).pop().unwrap();
    let e = crate::model::OpError { code: "validation_failed".into(), message: "no".into(), status: Some(422) };
    s.write(|tx| outbox::mark_failed(tx, op.op_id, &e)).unwrap();
    let (_, v) = check(CardChanges { pinned: Some(true), ..Default::default() });
    assert_eq!((v.sync_state, v.error), (SyncState::Failed, Some(e)));
}

// ---- trash and restore ----

#[test]
fn restore_of_a_confirmed_tombstone_queues_a_restore_and_shows_the_card() {
    let s = store();
    let id = create(&s, "back");
    let v1 = confirm_all(&s, id, 1);
    let mut t = v1.clone();
    t.version = 2;
    t.deleted = true;
    s.write(|tx| remote::apply_remote(tx, &t, None)).unwrap();
    assert!(s.read(|c| cards::view(c, id)).unwrap().is_none());
    let trash = s.read(crate::store::trash::list).unwrap();
    assert_eq!(trash.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id]);

    s.write(|tx| writes::restore(tx, id, Priority::Normal)).unwrap();
    let v = s.read(|c| cards::view(c, id)).unwrap().expect("visible again");
    assert_eq!(v.title, "back");
    let q = ops(&s, id);
    assert_eq!(q.len(), 1);
    assert!(matches!(q[0].payload, OpPayload::Restore));
    assert_eq!(q[0].base_version, Some(2));
    assert!(s.read(crate::store::trash::list).unwrap().is_empty());
    // Restoring a live card is refused.
    assert!(s.write(|tx| writes::restore(tx, id, Priority::Normal)).is_err());
    // The server's answer: live at v3. A stale tombstone (v2) arriving after it changes nothing.
    let mut live = v1.clone();
    live.version = 3;
    s.write(|tx| apply::succeeded(tx, &q[0], &live)).unwrap();
    let out = s.write(|tx| remote::apply_remote(tx, &t, None)).unwrap();
    assert!(out.ignored);
    assert_eq!(s.read(|c| cards::view(c, id)).unwrap().map(|v| v.title), Some("back".into()));
}

#[test]
fn restore_of_a_delete_that_never_left_withdraws_it() {
    let s = store();
    let id = create(&s, "oops");
    confirm_all(&s, id, 1);
    s.write(|tx| writes::delete(tx, id, Priority::Normal)).unwrap();
    assert_eq!(s.read(crate::store::trash::list).unwrap().len(), 1);
    s.write(|tx| writes::restore(tx, id, Priority::Normal)).unwrap();
    assert!(ops(&s, id).is_empty(), "nothing to send");
    assert_eq!(s.read(|c| cards::view(c, id)).unwrap().map(|v| v.title), Some("oops".into()));
}

#[test]
fn restore_of_an_unknown_card_is_not_found() {
    let s = store();
    assert!(matches!(s.write(|tx| writes::restore(tx, Uuid::now_v7(), Priority::Normal)), Err(StoreError::NotFound(_))));
}
