//! One row mapping for both backends: which columns a record is read from,
//! and how their values become the store's records. A backend implements
//! [`Columns`] for its row type (how to read an integer, a text, a flag)
//! and selects the column lists below; everything else is here.
//!
//! A row that no chinwagd wrote is handled the same way in both: a mute,
//! ban, member or room mute naming nobody valid is skipped (rather than
//! refusing to start over it), and a message whose conversation cannot be
//! read is an error.

use chinwag_proto::room::MaskList;
use chinwag_proto::server::{MessageId, MuteState, Timestamp};
use chinwag_proto::{NameKey, RoomRole, UserName};

use super::conversation::ConversationKey;
use super::{
    Account, AuditAction, AuditLogEntry, AuditRecord, BanRecord, BanTarget, MaskRecord,
    MemberRecord, MuteRecord, ReadMarker, RoomMeta, StoreError, StoredMessage,
};

/// The values of one result row, by column index (from 0).
pub trait Columns {
    /// Any integer column.
    fn int(&self, index: usize) -> Result<i64, StoreError>;
    fn text(&self, index: usize) -> Result<String, StoreError>;
    /// A text column that may be NULL.
    fn optional_text(&self, index: usize) -> Result<Option<String>, StoreError>;
    fn flag(&self, index: usize) -> Result<bool, StoreError>;
}

/// Mute states (and ban ends) are stored as their wire `u64` in a signed
/// 64-bit column: "until lifted" (`u64::MAX`) is -1 there.
pub fn mute_state(value: i64) -> MuteState {
    MuteState::from_wire(value as u64)
}

/// The column value of a mute state.
pub fn mute_column(state: MuteState) -> i64 {
    state.to_wire() as i64
}

/// The columns [`message`] reads, from `messages`.
pub const MESSAGE_COLUMNS: &str = "id, ts, conv, sender, recipient, text, flags";

pub fn message(row: &dyn Columns) -> Result<StoredMessage, StoreError> {
    let id = MessageId(row.int(0)? as u64);
    let conversation = ConversationKey::from_column(&row.text(2)?)
        .map_err(|error| StoreError::Failed(format!("message {}: {error}", id.0)))?;
    Ok(StoredMessage {
        id,
        ts: Timestamp(row.int(1)? as u64),
        conversation,
        from: row.text(3)?,
        to: row.text(4)?,
        text: row.text(5)?,
        notice: row.int(6)? & super::FLAG_NOTICE != 0,
    })
}

/// The `name_skeleton` column of an account stored under `name_key`.
pub fn skeleton_of_key(name_key: &str) -> String {
    // A stored key folds to itself; one that does not (no chinwagd wrote
    // it) gets a skeleton of its own text, which finds it no lookalike.
    NameKey::fold(name_key).map_or_else(|| name_key.to_owned(), |key| key.skeleton())
}

/// The columns [`account`] reads, from `accounts`.
pub const ACCOUNT_COLUMNS: &str = "name, password_hash, admin, created_at";

pub fn account(row: &dyn Columns) -> Result<Account, StoreError> {
    Ok(Account {
        name: row.text(0)?,
        password_hash: row.text(1)?,
        admin: row.flag(2)?,
        created_at: Timestamp(row.int(3)? as u64),
    })
}

/// The columns [`mute`] reads, from `mutes`. (`until` and `by` are quoted
/// for PostgreSQL, where they are keywords; SQLite reads them the same.)
pub const MUTE_COLUMNS: &str = r#"name_key, "until", "by", reason"#;

pub fn mute(row: &dyn Columns) -> Result<Option<MuteRecord>, StoreError> {
    let Some(name) = NameKey::fold(&row.text(0)?) else {
        return Ok(None);
    };
    Ok(Some(MuteRecord {
        name,
        until: mute_state(row.int(1)?),
        by: row.text(2)?,
        reason: row.text(3)?,
    }))
}

/// A user name in column 0; `None` for one no chinwagd wrote.
pub fn user_name(row: &dyn Columns) -> Result<Option<UserName>, StoreError> {
    Ok(UserName::parse(&row.text(0)?).ok())
}

/// A metadata key and its value.
pub fn metadata(row: &dyn Columns) -> Result<(String, String), StoreError> {
    Ok((row.text(0)?, row.text(1)?))
}

/// The columns [`read_marker`] reads, from `read_markers`.
pub const READ_MARKER_COLUMNS: &str = "conv, message_id, ts";

/// A read marker; `None` for a conversation key no chinwagd wrote.
pub fn read_marker(row: &dyn Columns) -> Result<Option<ReadMarker>, StoreError> {
    let Ok(conversation) = ConversationKey::from_column(&row.text(0)?) else {
        return Ok(None);
    };
    Ok(Some(ReadMarker {
        conversation,
        up_to: MessageId(row.int(1)? as u64),
        ts: Timestamp(row.int(2)? as u64),
    }))
}

/// The columns [`ban`] reads, from `bans`.
pub const BAN_COLUMNS: &str = r#"target, "until", "by", reason, "at""#;

pub fn ban(row: &dyn Columns) -> Result<Option<BanRecord>, StoreError> {
    let Some(target) = BanTarget::parse(&row.text(0)?) else {
        return Ok(None);
    };
    Ok(Some(BanRecord {
        target,
        until: mute_state(row.int(1)?),
        by: row.text(2)?,
        reason: row.text(3)?,
        at: Timestamp(row.int(4)? as u64),
    }))
}

/// The columns [`audit_entry`] reads, from `audit`.
pub const AUDIT_COLUMNS: &str = r#"id, ts, actor, action, target, "until", reason"#;

pub fn audit_entry(row: &dyn Columns) -> Result<AuditLogEntry, StoreError> {
    let id = row.int(0)? as u64;
    let action = row.text(3)?;
    let action = AuditAction::parse(&action).ok_or_else(|| {
        StoreError::Failed(format!("audit entry {id}: {action:?} is not an action"))
    })?;
    Ok(AuditLogEntry {
        id,
        record: AuditRecord {
            ts: Timestamp(row.int(1)? as u64),
            actor: row.text(2)?,
            action,
            target: row.text(4)?,
            until: row.int(5)? as u64,
            reason: row.text(6)?,
        },
    })
}

/// The columns [`room`] reads, from `rooms`.
pub const ROOM_COLUMNS: &str =
    "room_key, name, topic, mode, password, member_limit, created, topic_by, topic_ts";

/// A room's settings, with its key (to read its members and mutes by).
pub fn room(row: &dyn Columns) -> Result<(String, RoomMeta), StoreError> {
    let mode = row.int(3)?;
    let meta = RoomMeta {
        name: row.text(1)?,
        topic: row.text(2)?,
        mode: u8::try_from(mode)
            .map_err(|_| StoreError::Failed(format!("room mode {mode} is not a ROOM_MODE")))?,
        password: row.optional_text(4)?,
        limit: u32::try_from(row.int(5)?).unwrap_or(0),
        created: Timestamp(row.int(6)? as u64),
        topic_by: row.text(7)?,
        topic_ts: Timestamp(row.int(8)? as u64),
    };
    Ok((row.text(0)?, meta))
}

/// The columns [`member`] reads, from `room_members`.
pub const MEMBER_COLUMNS: &str = "name, role, since, voiced";

pub fn member(row: &dyn Columns) -> Result<Option<MemberRecord>, StoreError> {
    let role = u8::try_from(row.int(1)?)
        .ok()
        .and_then(RoomRole::from_u8)
        .filter(|role| *role != RoomRole::None);
    let Some(role) = role else {
        return Ok(None);
    };
    Ok(Some(MemberRecord {
        name: row.text(0)?,
        role,
        since: row.int(2)? as u64,
        voiced: row.flag(3)?,
    }))
}

/// The columns [`room_mask`] reads, from `room_masks`.
pub const ROOM_MASK_COLUMNS: &str = "list, mask, set_by, set_at";

/// A mask entry; `None` for a list this build does not know.
pub fn room_mask(row: &dyn Columns) -> Result<Option<MaskRecord>, StoreError> {
    let Some(list) = u8::try_from(row.int(0)?).ok().and_then(MaskList::from_u8) else {
        return Ok(None);
    };
    Ok(Some(MaskRecord {
        list,
        mask: row.text(1)?,
        set_by: row.text(2)?,
        set_at: Timestamp(row.int(3)? as u64),
    }))
}

/// The columns [`room_mute`] reads, from `room_mutes`.
pub const ROOM_MUTE_COLUMNS: &str = r#"name_key, "until""#;

pub fn room_mute(row: &dyn Columns) -> Result<Option<(NameKey, MuteState)>, StoreError> {
    let Some(name) = NameKey::fold(&row.text(0)?) else {
        return Ok(None);
    };
    Ok(Some((name, mute_state(row.int(1)?))))
}
