//! Faults at scale, on a cluster of its own: three instances, writers retrying with the same
//! Idempotency-Key on whichever instance answers, one instance killed (-9) mid-load and
//! PostgreSQL restarted mid-load. Every write lands exactly once, seqs stay dense, and a stream
//! that resumes on surviving instances sees each seq once, in order.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::Value;
use support::instances::{Instance, Opts, add_user, http};
use support::{Frame, Sse, new_card, pg};
use uuid::Uuid;

const WRITERS: usize = 6;

/// Writes per writer: `CHAOS_PG_WRITES` (all writers together) / 6; 150 in total by default.
fn per_writer() -> usize {
    let total: usize = std::env::var("CHAOS_PG_WRITES").ok().and_then(|v| v.parse().ok()).unwrap_or(150);
    (total / WRITERS).max(1)
}
/// Faults make retries slow; the whole run must still finish in this time.
const RUN_DEADLINE: Duration = Duration::from_secs(300);

/// POSTs one create with `key` until some instance answers 201 (applied or replayed); returns
/// the card and how many attempts failed (503, 409 in flight, connection refused or reset).
async fn create_until_done(http: &reqwest::Client, urls: &[String], token: &str, key: &str, body: &Value, start: usize) -> (Value, usize) {
    let began = Instant::now();
    let mut failed = 0;
    for attempt in 0.. {
        assert!(began.elapsed() < RUN_DEADLINE, "write {key} never succeeded");
        let url = &urls[(start + attempt) % urls.len()];
        let sent = http
            .post(format!("{url}/v1/cards"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .timeout(Duration::from_secs(10))
            .json(body)
            .send()
            .await;
        if let Ok(r) = sent {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            match status {
                201 => return (serde_json::from_str(&text).unwrap(), failed),
                503 => {}
                409 if text.contains("idempotency_in_flight") => {}
                s => panic!("write {key}: unexpected {s}: {text}"),
            }
        }
        failed += 1;
        // Back off a little before the next instance (not a synchronisation: any order works).
        tokio::time::sleep(Duration::from_millis(20 * (attempt as u64 % 10 + 1))).await;
    }
    unreachable!()
}

/// Follows the user's events across instances: on any end or failure, resumes with the last seq
/// on the next instance. Returns the seqs in arrival order once `upto` arrived.
async fn follow(http: reqwest::Client, urls: Vec<String>, token: String, upto: Arc<AtomicUsize>) -> Vec<i64> {
    let mut seqs: Vec<i64> = Vec::new();
    let began = Instant::now();
    for hop in 0.. {
        let target = upto.load(Ordering::SeqCst) as i64;
        if target > 0 && seqs.last().copied() == Some(target) {
            return seqs;
        }
        assert!(began.elapsed() < RUN_DEADLINE, "stream stuck at {:?}", seqs.last());
        let last = seqs.last().copied().unwrap_or(0);
        let url = &urls[hop % urls.len()];
        let opened = http.get(format!("{url}/v1/events")).bearer_auth(&token).header("last-event-id", last.to_string()).send().await;
        let Ok(r) = opened else { continue };
        if r.status() != 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let mut sse = Sse::from_response(r);
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(3), sse.next()).await;
            match frame {
                // Change events carry a seq; the opening hello (`connected`, when the server
                // sends one) does not.
                Ok(Some(Frame::Event(e))) if e.id.is_some() => seqs.push(e.seq()),
                Ok(Some(_)) => {}
                // Ended (instance killed, database restarted) or silent: resume elsewhere.
                Ok(None) | Err(_) => break,
            }
            let target = upto.load(Ordering::SeqCst) as i64;
            if target > 0 && seqs.last().copied() == Some(target) {
                return seqs;
            }
        }
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_survive_a_killed_instance_and_a_database_restart_exactly_once() {
    let mut cluster = pg::Cluster::start();
    let db = cluster.fresh_database();
    let nodes = support::instances::start_n(&db, 3, &Opts::default()).await;
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let mut nodes: Vec<Option<Instance>> = nodes.into_iter().map(Some).collect();
    let token = add_user(&db, "ann").await;
    let http = http();
    let per_writer = per_writer();
    let total = WRITERS * per_writer;
    let done = Arc::new(AtomicUsize::new(0));
    let upto = Arc::new(AtomicUsize::new(0));
    // The stream reads from A and B only (C is the one that gets killed).
    let follower = tokio::spawn(follow(http.clone(), urls[..2].to_vec(), token.clone(), upto.clone()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (http, urls, token, done) = (http.clone(), urls.clone(), token.clone(), done.clone());
            tokio::spawn(async move {
                let mut failed = 0;
                let mut ids = Vec::new();
                for i in 0..per_writer {
                    let key = Uuid::new_v4().to_string();
                    let body = new_card(Uuid::now_v7(), &format!("w{w} #{i}"));
                    let (card, f) = create_until_done(&http, &urls, &token, &key, &body, w + i).await;
                    assert_eq!(card["id"], body["id"]);
                    ids.push(card["id"].as_str().unwrap().to_string());
                    failed += f;
                    done.fetch_add(1, Ordering::SeqCst);
                }
                (ids, failed)
            })
        })
        .collect();

    support::poll("a third of the writes", || async { (done.load(Ordering::SeqCst) >= total / 3).then_some(()) }).await;
    nodes[2].take().unwrap().kill().await;
    support::poll("two thirds of the writes", || async { (done.load(Ordering::SeqCst) >= 2 * total / 3).then_some(()) }).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart();
        cluster
    })
    .await
    .unwrap();

    let mut failed = 0;
    let mut ids = std::collections::HashSet::new();
    for r in join_all(writers).await {
        let (w_ids, f) = r.unwrap();
        failed += f;
        ids.extend(w_ids);
    }
    assert_eq!(ids.len(), total);
    upto.store(total, Ordering::SeqCst);
    let seqs = follower.await.unwrap();
    eprintln!("{total} writes through 3 instances, 1 killed, PostgreSQL restarted: {failed} failed attempts retried");

    let name = pg::database_of(&db);
    assert_eq!(cluster.psql(&name, "SELECT last_seq FROM users WHERE name = 'ann'"), total.to_string(), "one seq per write");
    assert_eq!(cluster.psql(&name, "SELECT count(*) FROM cards"), total.to_string(), "one card per key, none twice");
    assert_eq!(cluster.psql(&name, "SELECT count(DISTINCT seq) FROM cards WHERE seq BETWEEN 1 AND (SELECT last_seq FROM users WHERE name = 'ann')"), total.to_string(), "seqs dense");
    assert_eq!(cluster.psql(&name, "SELECT count(*) FROM idempotency"), total.to_string());
    let orphans = cluster.psql(
        &name,
        "SELECT count(*) FROM idempotency i WHERE NOT EXISTS (SELECT 1 FROM cards c
         WHERE c.user_id = i.user_id AND c.id = i.card_id AND c.version >= i.version)",
    );
    assert_eq!(orphans, "0");
    assert_eq!(seqs, (1..=total as i64).collect::<Vec<_>>(), "the stream saw every seq once, in order, across resumes");
    drop(nodes);
    drop(cluster);
}
