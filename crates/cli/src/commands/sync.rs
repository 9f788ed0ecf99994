use std::collections::HashSet;
use std::time::Duration;

use deckhand_core::model::OpState;
use deckhand_core::{Engine, IdleError};

use crate::args::SyncCommand;
use crate::output::{Out, status_text};

/// Exit codes of `sync run --until-idle` that scripts can branch on.
pub fn idle_exit_code(e: &IdleError) -> u8 {
    match e {
        IdleError::Disabled { .. } | IdleError::Paused { .. } | IdleError::Offline { .. } => 3,
        IdleError::Conflicts(_) => 4,
        IdleError::Failed(_) => 5,
        IdleError::AuthRequired => 6,
        IdleError::Timeout { .. } => 7,
        IdleError::Storage(_) => 1,
    }
}

pub enum SyncOutcome {
    Done,
    NotIdle(IdleError),
}

pub async fn run(engine: &Engine, out: &Out, cmd: SyncCommand) -> anyhow::Result<SyncOutcome> {
    match cmd {
        SyncCommand::Run { until_idle, timeout, past_conflicts, .. } => {
            engine.sync_now().await?;
            // Without --until-idle: one pass, bounded by the same timeout, never an error for leftovers.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
            let result = loop {
                let r = engine.wait_idle(deadline.saturating_duration_since(tokio::time::Instant::now())).await;
                if past_conflicts && matches!(r, Err(IdleError::Conflicts(_))) && tokio::time::Instant::now() < deadline {
                    // Ops of a card whose conflict waits are blocked behind it; the rest can move.
                    let ops = engine.outbox().await?;
                    let parked: HashSet<_> = ops.iter().filter(|o| o.state == OpState::Conflict).map(|o| o.card_id).collect();
                    let movable = ops.iter().any(|o| matches!(o.state, OpState::Pending | OpState::InFlight) && !parked.contains(&o.card_id));
                    if movable && !ops.iter().any(|o| o.state == OpState::Failed) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
                break r;
            };
            let status = engine.status().await?;
            match result {
                Ok(()) => {
                    out.value(&status, || "idle: outbox empty and caught up".to_string());
                    Ok(SyncOutcome::Done)
                }
                Err(e) if until_idle => Ok(SyncOutcome::NotIdle(e)),
                Err(e) => {
                    out.value(&status, || format!("not idle: {e}"));
                    Ok(SyncOutcome::Done)
                }
            }
        }
        SyncCommand::Status => {
            let status = engine.status().await?;
            out.value(&status, || status_text(&status));
            Ok(SyncOutcome::Done)
        }
    }
}
