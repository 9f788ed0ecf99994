//! Lanes as synced records through the engine against the real server: first run on two devices
//! makes one set, a rename moves its cards (one step), a delete sends its cards where the user
//! said, a reorder shows on every device, and concurrent writes converge by the rules in
//! docs/sync-engine.md, "Lanes".

mod support;

use std::time::Duration;

use deckhand_core::Engine;
use deckhand_core::model::*;
use support::*;

const IDLE: Duration = Duration::from_secs(20);

async fn settle(e: &Engine) {
    e.sync_now().await.unwrap();
    e.wait_idle(IDLE).await.unwrap();
}

async fn names(e: &Engine) -> Vec<String> {
    e.lanes().await.unwrap().into_iter().map(|l| l.lane).collect()
}

/// The server's live lanes, in board order, straight over HTTP.
async fn server_lanes(h: &Harness) -> Vec<deckhand_protocol::Lane> {
    let page: deckhand_protocol::LanesPage = reqwest::Client::new()
        .get(format!("{}/v1/lanes", h.server.url()))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page.items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_on_two_offline_devices_makes_one_set_of_lanes() {
    // Both devices open without a server (offline first run), then connect.
    let h = sync_harness_with(2, |_, mut c| {
        c.server = None;
        c
    })
    .await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    assert_eq!(names(a).await, ["Inbox", "Doing", "Done"]);
    assert!(a.lanes().await.unwrap().iter().all(|l| l.pending));
    a.set_server(Some(h.settings())).await;
    b.set_server(Some(h.settings())).await;
    settle(a).await;
    settle(b).await;
    settle(a).await;
    let on_server = server_lanes(&h).await;
    assert_eq!(on_server.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["Inbox", "Doing", "Done"]);
    assert!(on_server.iter().all(|l| l.version == 1), "each created once: {on_server:?}");
    for e in [a, b] {
        let lanes = e.lanes().await.unwrap();
        assert_eq!(lanes.iter().map(|l| l.lane.as_str()).collect::<Vec<_>>(), ["Inbox", "Doing", "Done"]);
        assert!(lanes.iter().all(|l| !l.pending && l.id.is_some()));
    }
    // A third device joining later adds nothing either.
    let mut h = h;
    let c = h.add_engine(h.server.url(), |c| c).await;
    settle(&h.engines[c]).await;
    assert_eq!(names(&h.engines[c]).await, ["Inbox", "Doing", "Done"]);
    assert_eq!(server_lanes(&h).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_moves_its_cards_on_every_device() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    // An existing card in lowercase "inbox" (the protocol's default lane) belongs to "Inbox".
    let card = a.create(NewCardInput { title: "t".into(), ..Default::default() }).await.unwrap();
    assert_eq!(card.lane, "inbox");
    settle(a).await;
    settle(b).await;
    assert_eq!(a.lanes().await.unwrap()[0].count, 1);
    let moved = a.rename_lane("Inbox".into(), "Triage".into()).await.unwrap();
    assert_eq!(moved, vec![card.id]);
    assert_eq!(names(a).await, ["Triage", "Doing", "Done"], "at once, offline-first");
    assert_eq!(a.rename_lane("Triage".into(), "doing".into()).await.unwrap_err().kind(), "lane_name_taken");
    settle(a).await;
    assert_eq!(h.server_card(card.id).await.1["lane"], "Triage");
    assert_eq!(server_lanes(&h).await[0].name, "Triage");
    let on_b = eventually("rename on b", || async {
        let lanes = b.lanes().await.unwrap();
        (lanes.len() == 3 && lanes[0].lane == "Triage" && lanes[0].count == 1).then_some(lanes)
    })
    .await;
    assert!(on_b.iter().all(|l| l.id.is_some()), "no lane made on the fly for the old name: {on_b:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_lane_moves_its_cards_or_trashes_them() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let doing = a.create(NewCardInput { title: "d".into(), lane: Some("Doing".into()), ..Default::default() }).await.unwrap();
    let done = a.create(NewCardInput { title: "x".into(), lane: Some("Done".into()), ..Default::default() }).await.unwrap();
    settle(a).await;
    assert_eq!(a.delete_lane("Doing".into(), LaneCards::MoveTo { lane: "Doing".into() }).await.unwrap_err().kind(), "invalid_state");
    assert_eq!(a.delete_lane("Doing".into(), LaneCards::MoveTo { lane: "inbox".into() }).await.unwrap(), vec![doing.id]);
    assert_eq!(a.delete_lane("Done".into(), LaneCards::Trash).await.unwrap(), vec![done.id]);
    assert_eq!(names(a).await, ["Inbox"]);
    settle(a).await;
    assert_eq!(h.server_card(doing.id).await.1["lane"], "Inbox");
    assert_eq!(h.server_card(done.id).await.0, 410, "to the Trash");
    assert_eq!(server_lanes(&h).await.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["Inbox"]);
    eventually("deletes on b", || async { (names(b).await == ["Inbox"]).then_some(()) }).await;
    assert_eq!(b.trash().await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), vec![done.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorder_shows_on_every_device_and_a_card_lane_without_a_record_shows_after_the_lanes() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    settle(a).await;
    settle(b).await;
    a.move_lane("Done".into(), None, Some("Inbox".into())).await.unwrap();
    a.move_lane("Inbox".into(), Some("Doing".into()), None).await.unwrap();
    assert_eq!(names(a).await, ["Done", "Doing", "Inbox"]);
    // A card naming a lane no record has (an import, an old client) shows in a lane of its own.
    a.create(NewCardInput { title: "old".into(), lane: Some("someday".into()), ..Default::default() }).await.unwrap();
    assert_eq!(names(a).await, ["Done", "Doing", "Inbox", "someday"]);
    assert_eq!(a.lanes().await.unwrap()[3].id, None);
    settle(a).await;
    eventually("order on b", || async { (names(b).await == ["Done", "Doing", "Inbox", "someday"]).then_some(()) }).await;
    // Acting on it makes it a real lane.
    b.move_lane("someday".into(), None, Some("Done".into())).await.unwrap();
    settle(b).await;
    assert_eq!(server_lanes(&h).await.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["someday", "Done", "Doing", "Inbox"]);
    eventually("someday first on a", || async { (names(a).await == ["someday", "Done", "Doing", "Inbox"]).then_some(()) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_renames_keep_the_first_and_the_cards_follow_it() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let ca = a.create(NewCardInput { title: "a's".into(), lane: Some("Doing".into()), ..Default::default() }).await.unwrap();
    settle(a).await;
    settle(b).await;
    a.pause().await;
    b.pause().await;
    a.rename_lane("Doing".into(), "Now".into()).await.unwrap();
    b.rename_lane("Doing".into(), "Active".into()).await.unwrap();
    let cb = b.create(NewCardInput { title: "b's".into(), lane: Some("Active".into()), ..Default::default() }).await.unwrap();
    a.resume().await;
    settle(a).await;
    b.resume().await;
    settle(b).await;
    settle(a).await;
    assert_eq!(server_lanes(&h).await[1].name, "Now");
    for id in [ca.id, cb.id] {
        assert_eq!(h.server_card(id).await.1["lane"], "Now", "every card follows the lane's name");
    }
    for e in [a, b] {
        eventually("converged", || async {
            let lanes = e.lanes().await.unwrap();
            (lanes.iter().map(|l| l.lane.as_str()).collect::<Vec<_>>() == ["Inbox", "Now", "Done"] && lanes[1].count == 2).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_new_lane_added_on_two_devices_is_one_lane() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    settle(a).await;
    settle(b).await;
    a.pause().await;
    b.pause().await;
    a.add_lane("Ideas".into(), None).await.unwrap();
    b.add_lane("ideas".into(), None).await.unwrap();
    a.resume().await;
    settle(a).await;
    b.resume().await;
    settle(b).await;
    let on_server: Vec<_> = server_lanes(&h).await.into_iter().map(|l| l.name).collect();
    assert_eq!(on_server, ["Inbox", "Doing", "Done", "Ideas"]);
    assert_eq!(names(b).await, ["Inbox", "Doing", "Done", "Ideas"], "b adopted a's lane");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lane_writes_survive_lost_answers_and_are_retried_under_their_key() {
    let mut h = sync_harness(0).await;
    let proxy = Proxy::start(h.server.addr()).await;
    // The first create (Inbox) is applied but its answer is lost; the retry meets a 503 first.
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/lanes".into(), fault: Fault::DropResponse, times: 1 });
    proxy.add_rule(Rule { method: Some("POST"), path_contains: "/v1/lanes".into(), fault: Fault::Status { status: 503, code: "overloaded", retry_after: None }, times: 1 });
    let i = h.add_engine(proxy.url(), |c| c).await;
    let e = &h.engines[i];
    settle(e).await;
    let on_server = server_lanes(&h).await;
    assert_eq!(on_server.iter().map(|l| (l.name.as_str(), l.version)).collect::<Vec<_>>(), [("Inbox", 1), ("Doing", 1), ("Done", 1)]);
    let posts = proxy.writes("POST", "/v1/lanes");
    let first = posts[0].key.clone();
    assert!(first.is_some());
    assert!(posts.iter().filter(|w| w.key == first).count() >= 2, "retried under the same key: {posts:?}");
    assert!(posts.iter().any(|w| w.key == first && w.replayed), "the retry was answered from the record: {posts:?}");
    assert!(posts.iter().filter(|w| w.replayed).all(|w| w.key == first));

    // A rename whose answer is lost: applied once (version 2), the retry replays.
    proxy.add_rule(Rule { method: Some("PATCH"), path_contains: "/v1/lanes".into(), fault: Fault::DropResponse, times: 1 });
    e.rename_lane("Doing".into(), "Now".into()).await.unwrap();
    settle(e).await;
    let doing = server_lanes(&h).await.into_iter().find(|l| l.id == on_server[1].id).unwrap();
    assert_eq!((doing.name.as_str(), doing.version), ("Now", 2));
    let patches = proxy.writes("PATCH", "/v1/lanes");
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert_eq!(patches[0].key, patches[1].key);
    assert!(patches[1].replayed);
    assert!(e.lanes().await.unwrap().iter().all(|l| !l.pending));
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_meeting_a_delete_is_undone_and_the_delete_decides_where_the_cards_go() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    let c = a.create(NewCardInput { title: "in doing".into(), lane: Some("Doing".into()), ..Default::default() }).await.unwrap();
    settle(a).await;
    settle(b).await;
    a.pause().await;
    b.pause().await;
    a.delete_lane("Doing".into(), LaneCards::MoveTo { lane: "Done".into() }).await.unwrap();
    b.rename_lane("Doing".into(), "Active".into()).await.unwrap();
    a.resume().await;
    settle(a).await;
    b.resume().await;
    settle(b).await;
    settle(a).await;
    assert_eq!(h.server_card(c.id).await.1["lane"], "Done", "the delete's choice stands");
    assert_eq!(server_lanes(&h).await.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["Inbox", "Done"]);
    for e in [a, b] {
        eventually("converged", || async { (names(e).await == ["Inbox", "Done"]).then_some(()) }).await;
        assert_eq!(e.get(c.id).await.unwrap().unwrap().lane, "Done");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reorders_converge_to_one_order() {
    let h = sync_harness(2).await;
    let (a, b) = (&h.engines[0], &h.engines[1]);
    settle(a).await;
    settle(b).await;
    a.pause().await;
    b.pause().await;
    a.move_lane("Done".into(), None, Some("Inbox".into())).await.unwrap();
    a.move_lane("Doing".into(), Some("Inbox".into()), None).await.unwrap();
    b.move_lane("Inbox".into(), Some("Done".into()), None).await.unwrap();
    b.move_lane("Done".into(), None, Some("Doing".into())).await.unwrap();
    a.resume().await;
    settle(a).await;
    b.resume().await;
    settle(b).await;
    settle(a).await;
    let on_server: Vec<String> = server_lanes(&h).await.into_iter().map(|l| l.name).collect();
    assert_eq!(on_server.len(), 3);
    for e in [a, b] {
        let want = on_server.clone();
        eventually("same order everywhere", || async { (names(e).await == want).then_some(()) }).await;
    }
}
