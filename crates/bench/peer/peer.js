#!/usr/bin/env node
// The peer side of issue 13's Q1-Q6: PouchDB 9 (its default LevelDB adapter, leveldown) as the
// client, express-pouchdb (same PouchDB, LevelDB) as the CouchDB-protocol server on 127.0.0.1:0,
// in this one Node process. The Rust harness (crates/bench/src/q.rs) runs one scenario per process
// and reads the one JSON line this prints on stdout; progress goes to stderr.
//
//   node peer.js SCENARIO --dir DIR [--cards FILE] [--n N] [--cache DIR]
//
// Cards come from FILE (JSON lines written by the harness from the same corpus as Deckhand's
// rows), so both peers store the same fields. Nothing here is timed that is not the work itself:
// setup (filling a database, starting the server) happens before the clock starts.
'use strict';
const fs = require('fs');
const path = require('path');
const express = require('express');
const PouchDB = require('pouchdb');

function args() {
  const a = { scenario: process.argv[2] };
  for (let i = 3; i < process.argv.length; i += 2) a[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
  a.n = Number(a.n || 0);
  return a;
}

const now = () => Number(process.hrtime.bigint()) / 1e3; // µs
const log = (...m) => process.stderr.write(m.join(' ') + '\n');

function readCards(file, n) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (lines.length < n) throw new Error(`${file} has ${lines.length} cards, need ${n}`);
  // The card's id becomes _id; the other fields are the document body, as an app would store them.
  return lines.slice(0, n).map((l) => {
    const c = JSON.parse(l);
    const { id, ...rest } = c;
    return { _id: id, ...rest };
  });
}

// express-pouchdb on its own LevelDB folder; resolves with { url, close }.
function startServer(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const ServerDB = PouchDB.defaults({ prefix: dir + '/' });
  const app = express();
  app.use('/', require('express-pouchdb')(ServerDB, {
    mode: 'minimumForPouchDB',
    logPath: path.join(dir, 'log.txt'),
    configPath: path.join(dir, 'config.json'),
  }));
  return new Promise((resolve) => {
    const srv = app.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${srv.address().port}`;
      resolve({ url, ServerDB, close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(() => r()); }) });
    });
  });
}

async function bulkLoad(db, docs) {
  for (let i = 0; i < docs.length; i += 1000) {
    const res = await db.bulkDocs(docs.slice(i, i + 1000));
    const bad = res.find((r) => r.error);
    if (bad) throw new Error(`bulkDocs: ${JSON.stringify(bad)}`);
  }
}

const rss = () => process.memoryUsage().rss;

// Q1: one awaited put at a time into a fresh local database.
async function q1(a) {
  const docs = readCards(a.cards, a.n);
  const db = new PouchDB(path.join(a.dir, 'local'));
  await db.info(); // opens LevelDB before the clock starts (Deckhand's engine is open too)
  const lat = new Array(docs.length);
  const t0 = now();
  for (let i = 0; i < docs.length; i++) {
    const s = now();
    await db.put(docs[i]);
    lat[i] = now() - s;
  }
  const secs = (now() - t0) / 1e6;
  const info = await db.info();
  if (info.doc_count !== docs.length) throw new Error(`local holds ${info.doc_count}, expected ${docs.length}`);
  await db.close();
  return { secs, lat_us: lat };
}

// Q2: n docs written offline (bulk, untimed), then replicate.to until the server holds them all.
async function q2(a) {
  const docs = readCards(a.cards, a.n);
  const db = new PouchDB(path.join(a.dir, 'local'));
  await bulkLoad(db, docs);
  const srv = await startServer(path.join(a.dir, 'server'));
  const remote = new PouchDB(`${srv.url}/cards`);
  const t0 = now();
  const r = await db.replicate.to(remote);
  const secs = (now() - t0) / 1e6;
  const info = await remote.info();
  if (info.doc_count !== docs.length) throw new Error(`server holds ${info.doc_count}, expected ${docs.length}`);
  await db.close();
  await srv.close();
  return { secs, docs_written: r.docs_written };
}

// Resolves when `db`'s live changes feed shows `id` (B "has it in its local store").
function waiter(db) {
  const want = new Map();
  const seen = new Set();
  const feed = db.changes({ live: true, since: 'now' }).on('change', (c) => {
    const w = want.get(c.id);
    if (w) { want.delete(c.id); w(); } else seen.add(c.id);
  });
  return {
    wait: (id) => new Promise((resolve) => { if (seen.delete(id)) resolve(); else want.set(id, resolve); }),
    cancel: () => feed.cancel(),
  };
}

// Q3: A and B each in live sync with the server; A.put, until B's local changes feed has the doc.
async function q3(a) {
  const docs = readCards(a.cards, a.n);
  const srv = await startServer(path.join(a.dir, 'server'));
  const remote = `${srv.url}/cards`;
  await new PouchDB(remote).info(); // creates the database
  const A = new PouchDB(path.join(a.dir, 'a'));
  const B = new PouchDB(path.join(a.dir, 'b'));
  const sa = A.sync(remote, { live: true, retry: true });
  const sb = B.sync(remote, { live: true, retry: true });
  const w = waiter(B);
  // Warm-up: one write must make the round trip before the clock runs (both feeds connected).
  await A.put({ _id: 'warmup', title: 'warmup' });
  await w.wait('warmup');
  const lat = new Array(docs.length);
  for (let i = 0; i < docs.length; i++) {
    const s = now();
    const p = w.wait(docs[i]._id);
    await A.put(docs[i]);
    await Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`write ${i} never reached B`)), 10000))]);
    lat[i] = now() - s;
    await B.get(docs[i]._id); // throws if B fired the change without storing the doc
  }
  w.cancel(); sa.cancel(); sb.cancel();
  await A.close(); await B.close();
  await srv.close();
  return { lat_us: lat };
}

// Q4: the server holds n docs (filled directly, cached under --cache); a new device pulls them all
// with replicate.from and lists its first page (allDocs, 100, with docs).
async function q4(a) {
  const cacheDir = path.join(a.cache, `q4-server-${a.n}`);
  if (!fs.existsSync(path.join(cacheDir, 'ready'))) {
    fs.rmSync(cacheDir, { recursive: true, force: true });
    const Fill = PouchDB.defaults({ prefix: cacheDir + '/' });
    fs.mkdirSync(cacheDir, { recursive: true });
    const db = new Fill('cards');
    await bulkLoad(db, readCards(a.cards, a.n));
    await db.close();
    fs.writeFileSync(path.join(cacheDir, 'ready'), '');
    log(`  filled ${cacheDir}`);
  }
  const serverDir = path.join(a.dir, 'server');
  fs.cpSync(cacheDir, serverDir, { recursive: true });
  const srv = await startServer(serverDir);
  const local = new PouchDB(path.join(a.dir, 'local'));
  const t0 = now();
  const r = await local.replicate.from(`${srv.url}/cards`, { batch_size: 100 });
  const page = await local.allDocs({ limit: 100, include_docs: true });
  const secs = (now() - t0) / 1e6;
  const info = await local.info();
  if (info.doc_count !== a.n || page.rows.length !== 100) throw new Error(`local holds ${info.doc_count}, page ${page.rows.length}`);
  await local.close();
  await srv.close();
  return { secs, docs_read: r.docs_read };
}

// Q6 (build): a local database of n docs, cached under --cache, for the RSS sample.
async function q6build(a) {
  const dir = path.join(a.cache, `q6-local-${a.n}`);
  if (!fs.existsSync(path.join(dir, 'ready'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const db = new PouchDB(path.join(dir, 'db'));
    await bulkLoad(db, readCards(a.cards, a.n));
    await db.close();
    fs.writeFileSync(path.join(dir, 'ready'), '');
  }
  return { dir: path.join(dir, 'db') };
}

// Q6: a fresh process opens the n-doc database, lists the first page and counts; RSS then.
async function q6(a) {
  const before = rss();
  const db = new PouchDB(a.db);
  const page = await db.allDocs({ limit: 100, include_docs: true });
  const info = await db.info();
  if (info.doc_count !== a.n || page.rows.length !== 100) throw new Error(`db holds ${info.doc_count}`);
  if (global.gc) global.gc();
  const after = rss();
  await db.close();
  return { rss_before: before, rss_after: after };
}

// Agreement for Q5: every doc has the same winning rev and the same conflict set everywhere.
async function snapshot(db) {
  const all = await db.allDocs({ include_docs: true, conflicts: true });
  const m = new Map();
  for (const r of all.rows) m.set(r.id, r.doc._rev + '|' + (r.doc._conflicts || []).slice().sort().join(','));
  return { m, conflicted: all.rows.filter((r) => r.doc._conflicts && r.doc._conflicts.length).length };
}
const same = (x, y) => x.m.size === y.m.size && [...x.m].every(([k, v]) => y.m.get(k) === v);

// Q5: n docs on both devices; both edit them all offline (A the title; B the body of even docs,
// the title of odd ones); then both reconnect (one-shot sync each, in parallel, repeated until
// A, B and the server agree). Conflicting revisions are left for the app, as PouchDB does.
async function q5(a) {
  const docs = readCards(a.cards, a.n);
  const srv = await startServer(path.join(a.dir, 'server'));
  const remoteUrl = `${srv.url}/cards`;
  const remote = new PouchDB(remoteUrl);
  const A = new PouchDB(path.join(a.dir, 'a'));
  const B = new PouchDB(path.join(a.dir, 'b'));
  await bulkLoad(A, docs);
  await A.sync(remoteUrl);
  await B.sync(remoteUrl);
  // Offline edits, one document write each (as a user's edits would be), not timed.
  for (const [db, f] of [[A, (d) => ({ ...d, title: d.title + ' (edited on A)' })],
    [B, (d, i) => (i % 2 === 0 ? { ...d, body: d.body + ' (edited on B)' } : { ...d, title: d.title + ' (edited on B)' })]]) {
    const all = await db.allDocs({ include_docs: true });
    for (let i = 0; i < all.rows.length; i++) await db.put(f(all.rows[i].doc, i));
  }
  const t0 = now();
  let rounds = 0;
  for (;;) {
    rounds++;
    await Promise.all([A.sync(remoteUrl), B.sync(remoteUrl)]);
    const [sa, sb, sr] = await Promise.all([snapshot(A), snapshot(B), snapshot(remote)]);
    if (same(sa, sb) && same(sa, sr)) {
      const secs = (now() - t0) / 1e6;
      await A.close(); await B.close();
      await srv.close();
      return { secs, rounds, conflicted: sr.conflicted, auto_merged: 0 };
    }
    if (rounds > 20) throw new Error('A, B and the server never agreed');
  }
}

// Smoke check for `make bench-peer`: write, replicate to the server and back, offline.
async function check(a) {
  const srv = await startServer(path.join(a.dir, 'server'));
  const A = new PouchDB(path.join(a.dir, 'a'));
  const B = new PouchDB(path.join(a.dir, 'b'));
  for (let i = 0; i < 100; i++) await A.put({ _id: 'c' + String(i).padStart(3, '0'), title: 'card ' + i });
  const up = await A.replicate.to(`${srv.url}/cards`);
  const down = await B.replicate.from(`${srv.url}/cards`);
  const n = (await B.info()).doc_count;
  await A.close(); await B.close(); await srv.close();
  if (up.docs_written !== 100 || down.docs_written !== 100 || n !== 100) throw new Error(`check: up ${up.docs_written} down ${down.docs_written} B ${n}`);
  return { ok: true, pouchdb: PouchDB.version, adapter: A.adapter };
}

const scenarios = { q1, q2, q3, q4, q5, q6, 'q6-build': q6build, check };

(async () => {
  const a = args();
  const f = scenarios[a.scenario];
  if (!f || !a.dir) {
    log('usage: node peer.js q1|q2|q3|q4|q5|q6|q6-build|check --dir DIR [--cards FILE] [--n N] [--cache DIR] [--db DIR]');
    process.exit(2);
  }
  fs.mkdirSync(a.dir, { recursive: true });
  const out = await f(a);
  // A pipe's write is asynchronous in Node: exit only once the whole line (Q1's 10,000 latencies
  // are ~200 KB) has been handed over, or the harness reads a truncated line.
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
})().catch((e) => {
  log('peer failed:', e && e.stack ? e.stack : e);
  process.exit(1);
});
