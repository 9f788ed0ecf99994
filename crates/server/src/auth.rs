//! Bearer tokens: made from 32 random bytes, shown once, stored only as sha256.

use std::collections::HashMap;
use std::sync::Mutex;

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

/// Which user each token belongs to, for tokens this instance has seen live. A token never
/// changes hands, so an entry can only go stale by revocation; that is why only the write routes
/// trust it (`require_writer`), whose transactions check liveness themselves.
#[derive(Default)]
pub struct TokenUsers(Mutex<HashMap<[u8; 32], UserId>>);

/// Entries kept at most; the map is emptied when full (a lookup refills what is in use).
const TOKEN_USERS_MAX: usize = 65_536;

impl TokenUsers {
    fn get(&self, hash: &[u8; 32]) -> Option<UserId> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(hash).copied()
    }

    fn remember(&self, hash: [u8; 32], user: UserId) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= TOKEN_USERS_MAX {
            map.clear();
        }
        map.insert(hash, user);
    }

    /// Drops a token found revoked.
    pub fn forget(&self, hash: &[u8; 32]) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(hash);
    }
}

/// The caller's token hash (None: no usable bearer token) and user, looked up in storage unless
/// `known` allows the instance's memory of live tokens.
async fn authenticate(state: &AppState, hash: Option<[u8; 32]>, known: bool) -> Result<([u8; 32], UserId), ApiError> {
    let Some(hash) = hash else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "missing bearer token (exactly one Authorization: Bearer header)"));
    };
    if known {
        if let Some(user) = state.token_users.get(&hash) {
            return Ok((hash, user));
        }
    }
    let Some(user) = state.storage.clone().user_for_token_async(hash).await? else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "invalid or revoked token"));
    };
    state.token_users.remember(hash, user);
    Ok((hash, user))
}

/// The caller (401 + `WWW-Authenticate: Bearer` without a live token), then the request's limits
/// (`crate::limits::admit`), then the route.
async fn gate(state: AppState, mut req: Request, next: Next, known: bool) -> Result<Response, ApiError> {
    // Hashed before any await: the request (its body) is not `Sync`, so no borrow of it may
    // live across one.
    let hash = bearer(&req).map(hash_token);
    let (hash, user) = authenticate(&state, hash, known).await?;
    let _slot = crate::limits::admit(&state, &hash, req.uri().path())?;
    req.extensions_mut().insert(User(user));
    req.extensions_mut().insert(TokenHash(hash));
    Ok(next.run(req).await)
}

/// Middleware for every authenticated route that is not `require_writer`'s: the token is looked up
/// on every request.
pub async fn require_user(State(state): State<AppState>, req: Request, next: Next) -> Result<Response, ApiError> {
    gate(state, req, next, false).await
}

/// Middleware for the routes that make one write (their handlers pass `TokenHash` into the
/// write, `IdemKey::token`): like `require_user`, but a token this instance has seen live is not
/// looked up again. The write's own transaction reads the token's row first and writes nothing
/// if it was revoked meanwhile, in the statement that takes the key's lock anyway — so a revoked
/// token still cannot write from the moment the revocation commits, on any instance, and every
/// write saves a round trip to the database.
pub async fn require_writer(State(state): State<AppState>, req: Request, next: Next) -> Result<Response, ApiError> {
    gate(state, req, next, true).await
}
