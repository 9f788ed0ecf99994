//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1:0 in front of a real server. Faults come from a
//! script (exact faults for the next requests) first, then from the plan.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::fault::{Fault, FaultKind, Plan};

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

struct Shared {
    upstream: Mutex<String>,
    plan: Mutex<Plan>,
    script: Mutex<VecDeque<Fault>>,
    injected: Mutex<BTreeMap<FaultKind, u64>>,
    requests: Mutex<BTreeMap<String, u64>>,
    client: reqwest::Client,
}

pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

impl FaultProxy {
    /// Starts forwarding to `upstream` (e.g. `http://127.0.0.1:1234`) with `Plan::Pass`.
    pub async fn start(upstream: impl Into<String>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream.into()),
            plan: Mutex::new(Plan::Pass),
            script: Mutex::new(VecDeque::new()),
            injected: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(BTreeMap::new()),
            client: reqwest::Client::builder().no_proxy().build().expect("client"),
        });
        let (shutdown, mut down) = watch::channel(false);
        let accept_shared = shared.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    _ = down.changed() => return,
                    r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
                };
                let shared = accept_shared.clone();
                let mut conn_down = down.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(shared.clone(), req));
                    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = &mut conn => {}
                        _ = conn_down.changed() => {}
                    }
                });
            }
        });
        FaultProxy { addr, shared, shutdown }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_upstream(&self, upstream: impl Into<String>) {
        *self.shared.upstream.lock().unwrap() = upstream.into();
    }

    pub fn set_plan(&self, plan: Plan) {
        *self.shared.plan.lock().unwrap() = plan;
    }

    /// The next requests get exactly these faults, in order, before the plan is consulted again.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.script.lock().unwrap().extend(faults);
    }

    /// Faults injected so far, by kind name.
    pub fn injected(&self) -> BTreeMap<&'static str, u64> {
        self.shared.injected.lock().unwrap().iter().map(|(k, v)| (k.name(), *v)).collect()
    }

    pub fn injected_total(&self) -> u64 {
        self.shared.injected.lock().unwrap().values().sum()
    }

    /// Requests seen, by "METHOD /path-prefix" (ids folded), e.g. "POST /v1/cards".
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, key: &str) -> u64 {
        self.shared.requests.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn route_key(req: &Request<Incoming>) -> String {
    let path = req.uri().path();
    let folded = if path.starts_with("/v1/cards/") { "/v1/cards/{id}" } else { path };
    format!("{} {}", req.method(), folded)
}

fn full(status: StatusCode, retry_after: Option<u64>, body: &'static str) -> Response<Body> {
    let mut b = Response::builder().status(status).header("content-type", "application/problem+json");
    if let Some(s) = retry_after {
        b = b.header("retry-after", s.to_string());
    }
    b.body(Full::new(Bytes::from_static(body.as_bytes())).map_err(|never: Infallible| match never {}).boxed_unsync())
        .expect("response")
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let key = route_key(&req);
    *shared.requests.lock().unwrap().entry(key).or_default() += 1;
    let is_stream = req.uri().path() == "/v1/events";
    let fault = shared.script.lock().unwrap().pop_front().or_else(|| shared.plan.lock().unwrap().choose(is_stream));
    if let Some(f) = &fault {
        *shared.injected.lock().unwrap().entry(f.kind()).or_default() += 1;
        tracing::debug!(fault = ?f, path = %req.uri().path(), "fault injected");
    }
    match fault {
        Some(Fault::DropRequest) | Some(Fault::Reset) => return Err(Dropped),
        Some(Fault::ServerError) => {
            return Ok(full(StatusCode::INTERNAL_SERVER_ERROR, None, r#"{"code":"internal","status":500,"title":"injected","detail":"fault proxy","type":"about:blank"}"#));
        }
        Some(Fault::Unavailable { retry_after }) => {
            return Ok(full(StatusCode::SERVICE_UNAVAILABLE, Some(retry_after), r#"{"code":"overloaded","status":503,"title":"injected","detail":"fault proxy","type":"about:blank"}"#));
        }
        Some(Fault::RateLimited { retry_after }) => {
            return Ok(full(StatusCode::TOO_MANY_REQUESTS, Some(retry_after), r#"{"code":"rate_limited","status":429,"title":"injected","detail":"fault proxy","type":"about:blank"}"#));
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    let upstream = shared.upstream.lock().unwrap().clone();
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let url = format!("{upstream}{}", parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut out = shared.client.request(parts.method.clone(), url).body(body);
    for (name, value) in parts.headers.iter() {
        if name != "host" && name != "content-length" && name != "connection" {
            out = out.header(name, value);
        }
    }
    let resp = out.send().await.map_err(|_| Dropped)?;
    if fault == Some(Fault::DropResponse) {
        // Let the server finish the request, then vanish.
        let _ = resp.bytes().await;
        return Err(Dropped);
    }
    let mut builder = Response::builder().status(resp.status());
    for (name, value) in resp.headers().iter() {
        if name != "transfer-encoding" && name != "content-length" && name != "connection" {
            builder = builder.header(name, value);
        }
    }
    let cut = match fault {
        Some(Fault::CutStream { after_bytes }) => Some(after_bytes),
        _ => None,
    };
    let mut sent = 0usize;
    let stream = resp.bytes_stream().flat_map(move |chunk| -> futures::stream::BoxStream<'static, Result<Frame<Bytes>, std::io::Error>> {
        match chunk {
            Err(e) => futures::stream::iter([Err(std::io::Error::other(e))]).boxed(),
            // Deliver up to the limit, let hyper flush it, then break the connection mid-event.
            Ok(chunk) if cut.is_some_and(|limit| sent + chunk.len() > limit) => {
                let keep = cut.unwrap_or(0).saturating_sub(sent);
                sent += keep;
                let partial = futures::stream::iter([Ok(Frame::data(chunk.slice(..keep)))]);
                let broken = futures::stream::once(async {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    Err(std::io::Error::other("stream cut by the fault proxy"))
                });
                partial.chain(broken).boxed()
            }
            Ok(chunk) => {
                sent += chunk.len();
                futures::stream::iter([Ok(Frame::data(chunk))]).boxed()
            }
        }
    });
    Ok(builder.body(BodyExt::boxed_unsync(StreamBody::new(stream))).expect("response"))
}
