//! Bearer tokens: made from 32 random bytes, shown once, stored only as sha256.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use deckhand_protocol::ErrorCode;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::UserId;

/// The authenticated caller, put in request extensions by `require_user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct User(pub UserId);

/// sha256 of the bearer token the request came with (never the token itself), put in request
/// extensions by `require_user`: the rate limit is per token, so each of a user's devices has its
/// own budget, and long-lived SSE streams re-check that their token is still live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

/// The short id a card version records for the token that wrote it: the first 16 hex digits of
/// the token's SHA-256 (enough to tell devices apart; useless to authenticate with).
pub fn writer_id(t: &TokenHash) -> String {
    hex::encode(&t.0[..8])
}

pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("dh_{}", hex::encode(bytes))
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn bearer(req: &Request) -> Option<&str> {
    let mut values = req.headers().get_all(header::AUTHORIZATION).iter();
    let value = values.next()?.to_str().ok()?;
    // Several Authorization headers are ambiguous (which one would a proxy have checked?): refuse.
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// Middleware for every authenticated route: 401 + `WWW-Authenticate: Bearer` without a live token.
pub async fn require_user(State(state): State<AppState>, mut req: Request, next: Next) -> Result<Response, ApiError> {
    let Some(token) = bearer(&req) else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "missing bearer token (exactly one Authorization: Bearer header)"));
    };
    let hash = hash_token(token);
    let storage = state.storage.clone();
    let user = tokio::task::spawn_blocking(move || storage.user_for_token(&hash))
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "auth task failed"))??;
    let Some(user) = user else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "invalid or revoked token"));
    };
    req.extensions_mut().insert(User(user));
    req.extensions_mut().insert(TokenHash(hash));
    Ok(next.run(req).await)
}
