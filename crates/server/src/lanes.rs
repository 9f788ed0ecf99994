//! What each lane write does, independent of any database (as `domain` is for cards): every
//! backend loads the user's lanes after taking the user's counter lock and calls `apply_lane`.

use chrono::{DateTime, Utc};
use deckhand_protocol::limits::LANES_MAX;
use deckhand_protocol::{ErrorCode, FieldError, Lane, LaneChanges, NewLane, Problem, lane_key};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub enum LaneOp {
    Create(NewLane),
    /// A rename, a move, or both.
    Patch { id: Uuid, base_version: i64, changes: LaneChanges },
    Delete { id: Uuid, base_version: i64 },
}

impl LaneOp {
    pub fn lane_id(&self) -> Uuid {
        match self {
            LaneOp::Create(l) => l.id,
            LaneOp::Patch { id, .. } | LaneOp::Delete { id, .. } => *id,
        }
    }

    pub fn success_status(&self) -> u16 {
        match self {
            LaneOp::Create(_) => 201,
            _ => 200,
        }
    }
}

/// The lane after `op`, or the problem that refuses it. `all` is every lane of the caller
/// (tombstones included), read under the user's write lock.
pub fn apply_lane(op: &LaneOp, all: &[Lane], now: DateTime<Utc>) -> Result<Lane, Problem> {
    let id = op.lane_id();
    let current = all.iter().find(|l| l.id == id);
    // A live lane of another id with this name: names are unique per user, case-insensitively.
    let taken = |name: &str| -> Result<(), Problem> {
        let key = lane_key(name);
        match all.iter().find(|l| !l.deleted && l.id != id && lane_key(&l.name) == key) {
            Some(other) => Err(Problem::new(ErrorCode::LaneNameTaken, format!("a lane named {:?} exists already", other.name))
                .with_current_lane(other.clone())),
            None => Ok(()),
        }
    };
    match op {
        LaneOp::Create(new) => {
            if let Some(existing) = current {
                return Err(Problem::new(ErrorCode::AlreadyExists, format!("lane {id} already exists")).with_current_lane(existing.clone()));
            }
            taken(&new.name)?;
            if all.iter().filter(|l| !l.deleted).count() >= LANES_MAX {
                let detail = format!("at most {LANES_MAX} lanes");
                return Err(Problem::new(ErrorCode::ValidationFailed, detail.clone())
                    .with_errors(vec![FieldError { field: "id".into(), message: detail }]));
            }
            Ok(Lane { id, name: new.name.trim().to_string(), position: new.position, version: 1, updated_at: now, deleted: false })
        }
        LaneOp::Patch { base_version, changes, .. } => {
            let lane = live(current, id, *base_version)?;
            if let Some(name) = &changes.name {
                taken(name)?;
            }
            let mut next = lane.clone();
            changes.apply_to(&mut next);
            next.name = next.name.trim().to_string();
            next.version += 1;
            next.updated_at = now;
            Ok(next)
        }
        LaneOp::Delete { base_version, .. } => {
            let mut next = live(current, id, *base_version)?.clone();
            next.deleted = true;
            next.version += 1;
            next.updated_at = now;
            Ok(next)
        }
    }
}

fn live(current: Option<&Lane>, id: Uuid, base_version: i64) -> Result<&Lane, Problem> {
    let Some(lane) = current else {
        return Err(Problem::new(ErrorCode::NotFound, format!("no lane {id}")));
    };
    if lane.deleted {
        return Err(Problem::new(ErrorCode::Gone, format!("lane {id} was deleted")).with_current_lane(lane.clone()));
    }
    if lane.version != base_version {
        return Err(Problem::new(ErrorCode::VersionConflict, format!("base_version {base_version} is not the current version {}", lane.version))
            .with_current_lane(lane.clone()));
    }
    Ok(lane)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(name: &str, n: u128) -> Lane {
        Lane { id: Uuid::from_u128(n), name: name.into(), position: n as f64, version: 1, updated_at: Utc::now(), deleted: false }
    }

    #[test]
    fn names_are_unique_case_insensitively_among_live_lanes() {
        let mut gone = lane("Ideas", 2);
        gone.deleted = true;
        let all = vec![lane("Inbox", 1), gone];
        let dup = LaneOp::Create(NewLane { id: Uuid::from_u128(9), name: " INBOX".into(), position: 0.0 });
        let p = apply_lane(&dup, &all, Utc::now()).unwrap_err();
        assert_eq!(p.code, ErrorCode::LaneNameTaken);
        assert_eq!(p.current_lane.unwrap().id, Uuid::from_u128(1));
        // A deleted lane's name is free again.
        let again = LaneOp::Create(NewLane { id: Uuid::from_u128(9), name: "ideas".into(), position: 0.0 });
        assert_eq!(apply_lane(&again, &all, Utc::now()).unwrap().version, 1);
        // Renaming a lane to another case of its own name is no clash.
        let recase = LaneOp::Patch { id: Uuid::from_u128(1), base_version: 1, changes: LaneChanges { name: Some("INBOX".into()), position: None } };
        assert_eq!(apply_lane(&recase, &all, Utc::now()).unwrap().name, "INBOX");
    }

    #[test]
    fn stale_and_deleted_bases_are_refused_with_the_lane() {
        let all = vec![lane("Inbox", 1)];
        let stale = LaneOp::Patch { id: Uuid::from_u128(1), base_version: 0, changes: LaneChanges { name: None, position: Some(5.0) } };
        assert_eq!(apply_lane(&stale, &all, Utc::now()).unwrap_err().code, ErrorCode::VersionConflict);
        let del = apply_lane(&LaneOp::Delete { id: Uuid::from_u128(1), base_version: 1 }, &all, Utc::now()).unwrap();
        assert!(del.deleted && del.version == 2);
        let after = apply_lane(&stale, &[del], Utc::now()).unwrap_err();
        assert_eq!(after.code, ErrorCode::Gone);
    }
}
