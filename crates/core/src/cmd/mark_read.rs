//! MARK_READ: the sender's account has read a conversation up to a message.
//! Markers are the account's, kept by the store, so that what is unread
//! follows the account from session to session and front end to front end.
//! A marker only moves forward; marking a conversation one cannot read is
//! refused as HISTORY would refuse reading it.

use chinwag_proto::request::{BROADCAST_CONVERSATION, MarkRead};
use chinwag_proto::server::MessageId;
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::{CmdError, Ctx, Outcome, later};
use crate::store::ConversationKey;

pub fn apply(req: MarkRead, ctx: &mut Ctx<'_>) -> Outcome {
    let me = match ctx.me() {
        Ok(me) => me,
        Err(e) => return e.into(),
    };
    if !me.account {
        return CmdError::new(
            ErrorCode::AccountRequired,
            "read markers are kept for accounts; a guest's end with its connection",
        )
        .into();
    }
    if req.id == 0 {
        return CmdError::new(ErrorCode::InvalidArgument, "id 0 is no message").into();
    }
    let account = me.name.key();
    let conversation = match conversation(&req.conversation, account, ctx) {
        Ok(conversation) => conversation,
        Err(e) => return e.into(),
    };
    let store = &ctx.state.store;
    later(
        false,
        store.mark_read(account, conversation, MessageId(req.id)),
        |done, _| match done {
            Ok(()) => Ok(ServerFrame::ok("marked")).into(),
            Err(error) => CmdError::from(error).into(),
        },
    )
}

/// The conversation `name` means for `me`, spelled as HISTORY's `dst`: a
/// user, a `#room` (of which `me` is a member) or `*`.
pub fn conversation(name: &str, me: NameKey, ctx: &Ctx<'_>) -> Result<ConversationKey, CmdError> {
    if name == BROADCAST_CONVERSATION {
        return Ok(ConversationKey::Broadcast);
    }
    if name.starts_with('#') {
        let room = ctx.state.rooms.get(name).ok_or_else(|| {
            CmdError::new(ErrorCode::NoSuchRoom, format!("there is no room {name:?}"))
        })?;
        if room.read().member(&me).is_none() {
            return Err(CmdError::new(
                ErrorCode::NotAMember,
                format!("you are not a member of {}", room.name),
            ));
        }
        return Ok(ConversationKey::Room(room.name.key()));
    }
    let peer = NameKey::fold(name).ok_or_else(|| {
        CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{name:?} is neither a user name, a room nor `*`"),
        )
    })?;
    Ok(ConversationKey::direct(me, peer))
}
