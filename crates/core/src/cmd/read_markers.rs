//! READ_MARKERS: the sender's account's read markers, each conversation
//! named as HISTORY's `dst` names it, so a client pages from a marker with
//! `HISTORY conversation after=id` to count and show what is unread.

use chinwag_proto::request::{BROADCAST_CONVERSATION, Target};
use chinwag_proto::server::ReadMarker;
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::{CmdError, Ctx, Outcome, later};
use crate::store::ConversationKey;

pub fn apply(_req: Target, ctx: &mut Ctx<'_>) -> Outcome {
    let me = match ctx.me() {
        Ok(me) => me,
        Err(e) => return e.into(),
    };
    if !me.account {
        return CmdError::new(
            ErrorCode::AccountRequired,
            "read markers are kept for accounts",
        )
        .into();
    }
    let account = me.name.key();
    later(
        false,
        ctx.state.store.read_markers(account),
        move |markers, _| match markers {
            Ok(markers) => Ok(ServerFrame::ReadMarkerList(
                markers
                    .iter()
                    .map(|m| ReadMarker {
                        conversation: name_of(&m.conversation, account).into(),
                        id: m.up_to,
                    })
                    .collect(),
            ))
            .into(),
            Err(error) => CmdError::from(error).into(),
        },
    )
}

/// How `me` names `conversation`: `*`, `#room`, or the other user.
fn name_of(conversation: &ConversationKey, me: NameKey) -> String {
    match conversation {
        ConversationKey::Broadcast => BROADCAST_CONVERSATION.to_owned(),
        ConversationKey::Room(room) => format!("#{}", room.as_str()),
        ConversationKey::Direct(pair) => {
            let (a, b) = pair.users();
            if a == me { b } else { a }.as_str().to_owned()
        }
    }
}
