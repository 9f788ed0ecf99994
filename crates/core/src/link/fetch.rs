//! Fetching a card's URL for its metadata, within limits: one timeout for the whole exchange, a
//! bounded number of redirects, a content-type check, a size cap on the page (only its first
//! `max_html_bytes` are read: the `<head>` comes first, and a huge page costs no more than that)
//! and on the icon (which is kept as a `data:` URI, never as a remote address).

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use deckhand_protocol::{LinkMeta, LinkStatus};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use url::Url;

use super::html;

#[derive(Debug, Clone)]
pub struct FetchLimits {
    /// For the whole exchange of one request (connect, redirects, body).
    pub timeout: Duration,
    pub max_redirects: usize,
    pub max_html_bytes: usize,
    pub max_icon_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            timeout: Duration::from_secs(10),
            max_redirects: 5,
            max_html_bytes: 1024 * 1024,
            max_icon_bytes: deckhand_protocol::link::LINK_ICON_MAX_BYTES,
        }
    }
}

/// Why a page gave no metadata. `code()` is what `LinkMeta.error_code` records.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    #[error("not an http(s) URL")]
    BadUrl,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("more than {0} redirects (or a redirect loop)")]
    TooManyRedirects(usize),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the server answered HTTP {0}")]
    HttpStatus(u16),
    #[error("not an HTML page ({0})")]
    NotHtml(String),
    #[error("transport: {0}")]
    Transport(String),
}

impl LinkError {
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::BadUrl => "bad_url",
            LinkError::Timeout(_) => "timeout",
            LinkError::TooManyRedirects(_) => "too_many_redirects",
            LinkError::Connect(_) => "connect",
            LinkError::HttpStatus(_) => "http_status",
            LinkError::NotHtml(_) => "not_html",
            LinkError::Transport(_) => "transport",
        }
    }

    /// The URL no longer answers (as opposed to answering with something we cannot use).
    pub fn is_broken(&self) -> bool {
        matches!(self, LinkError::BadUrl | LinkError::Connect(_) | LinkError::HttpStatus(_))
    }
}

/// Fetches link metadata. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct LinkFetcher {
    client: reqwest::Client,
    limits: FetchLimits,
}

impl LinkFetcher {
    pub fn new(limits: FetchLimits) -> LinkFetcher {
        let client = reqwest::Client::builder()
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .redirect(reqwest::redirect::Policy::limited(limits.max_redirects))
            .user_agent(concat!("Deckhand/", env!("CARGO_PKG_VERSION"), " (link preview)"))
            .build()
            .expect("reqwest client builds");
        LinkFetcher { client, limits }
    }

    pub fn limits(&self) -> &FetchLimits {
        &self.limits
    }

    /// The metadata of `url`: never an error, a failure is recorded in the result.
    #[tracing::instrument(skip(self), fields(status))]
    pub async fn fetch(&self, url: &str) -> LinkMeta {
        let mut meta = LinkMeta {
            status: LinkStatus::Ok,
            title: None,
            description: None,
            site_name: None,
            icon: None,
            http_status: None,
            error_code: None,
            error: None,
            url: url.to_string(),
            fetched_at: Utc::now(),
        };
        match self.page(url).await {
            Ok((final_url, page, status)) => {
                meta.http_status = Some(status);
                meta.icon = self.icon(&final_url, page.icon_href.as_deref()).await;
                meta.title = page.title;
                meta.description = page.description;
                meta.site_name = page.site_name;
            }
            Err((e, status)) => {
                meta.status = if e.is_broken() { LinkStatus::Broken } else { LinkStatus::Failed };
                meta.http_status = status;
                meta.error_code = Some(e.code().to_string());
                meta.error = Some(e.to_string());
            }
        }
        tracing::Span::current().record("status", format!("{:?}", meta.status));
        meta
    }

    fn classify(&self, e: reqwest::Error) -> LinkError {
        if e.is_timeout() {
            LinkError::Timeout(self.limits.timeout)
        } else if e.is_redirect() {
            LinkError::TooManyRedirects(self.limits.max_redirects)
        } else if e.is_connect() {
            LinkError::Connect(root_cause(&e))
        } else {
            LinkError::Transport(root_cause(&e))
        }
    }

    async fn page(&self, url: &str) -> Result<(Url, html::PageMeta, u16), (LinkError, Option<u16>)> {
        let parsed = Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https")).ok_or((LinkError::BadUrl, None))?;
        let resp = self
            .client
            .get(parsed)
            .header(ACCEPT, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1")
            .send()
            .await
            .map_err(|e| (self.classify(e), None))?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err((LinkError::HttpStatus(status), Some(status)));
        }
        let (essence, charset) = content_type(&resp);
        // No Content-Type at all: try it as HTML (many small servers send none).
        if !(essence.is_empty() || essence == "text/html" || essence == "application/xhtml+xml") {
            return Err((LinkError::NotHtml(essence), Some(status)));
        }
        let final_url = resp.url().clone();
        let (bytes, _complete) = read_capped(resp, self.limits.max_html_bytes).await.map_err(|e| (self.classify(e), Some(status)))?;
        let text = html::decode(&bytes, charset.as_deref());
        Ok((final_url, html::parse(&text), status))
    }

    /// The page's icon as a data URI: its `<link rel=icon>`, else `/favicon.ico`. Any failure
    /// (missing, too big, not an image) is no icon, not a failed fetch.
    async fn icon(&self, base: &Url, href: Option<&str>) -> Option<String> {
        if let Some(h) = href.filter(|h| h.starts_with("data:")) {
            let fits = h.len() <= self.limits.max_icon_bytes * 4 / 3 + 128;
            return (h.starts_with("data:image/") && fits).then(|| h.to_string());
        }
        let target = match href {
            Some(h) => base.join(h).ok()?,
            None => base.join("/favicon.ico").ok()?,
        };
        if !matches!(target.scheme(), "http" | "https") {
            return None;
        }
        let resp = self.client.get(target).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        if resp.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok()).is_some_and(|n| n > self.limits.max_icon_bytes) {
            return None;
        }
        let (essence, _) = content_type(&resp);
        let (bytes, complete) = read_capped(resp, self.limits.max_icon_bytes).await.ok()?;
        if !complete || bytes.is_empty() {
            return None;
        }
        let mime = if essence.starts_with("image/") { essence } else { sniff_image(&bytes)?.to_string() };
        Some(format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes)))
    }
}

/// Content-Type's essence (lower case, no parameters) and its `charset` parameter.
fn content_type(resp: &reqwest::Response) -> (String, Option<String>) {
    let raw = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut parts = raw.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches('"').to_string())
    });
    (essence, charset)
}

/// At most `cap` bytes of the body, and whether that was all of it. Stops reading (and drops the
/// connection) at the cap.
async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = cap - out.len();
        if chunk.len() > room {
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, false));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, true))
}

/// An image type from its first bytes, for icons served as `application/octet-stream`.
fn sniff_image(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(&[0, 0, 1, 0]) {
        Some("image/x-icon")
    } else if b.starts_with(b"GIF8") {
        Some("image/gif")
    } else if b.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
