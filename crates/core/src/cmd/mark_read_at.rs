//! MARK_READ_AT: the sender has read a conversation up to a time, or asks
//! how far it has. The same markers as MARK_READ's: each holds the newest
//! message id read and the time read up to, and both only move forward.
//! An account's are the store's; a guest's are kept on its `Peer` (time
//! only) while it is online. When a marker moves, the user's other
//! sessions are told with a READ_MARKER_AT event.

use chinwag_proto::request::{BROADCAST_CONVERSATION, MarkReadAt};
use chinwag_proto::server::{MessageId, ReadMarkerAt, Timestamp};
use chinwag_proto::{ErrorCode, NameKey, RoomKey, ServerFrame};

use super::{CmdError, Ctx, Outcome, later, mark_read};
use crate::event::Event;
use crate::store::ConversationKey;

pub fn apply(req: MarkReadAt, ctx: &mut Ctx<'_>) -> Outcome {
    let me = match ctx.me() {
        Ok(me) => std::sync::Arc::clone(me),
        Err(e) => return e.into(),
    };
    let account = me.name.key();
    let asking = req.ts == 0;
    // Moving a marker needs what MARK_READ needs (a room one is in);
    // reading one's own marker needs only a name: it outlives a PART.
    let conversation = if asking {
        named(&req.conversation, account)
    } else {
        mark_read::conversation(&req.conversation, account, ctx)
    };
    let conversation = match conversation {
        Ok(conversation) => conversation,
        Err(e) => return e.into(),
    };
    let name = req.conversation.clone();
    let conn = ctx.conn.id;
    if !me.account {
        let ts = me.guest_read_at(conversation.to_column(), Timestamp(req.ts));
        let marker = ReadMarkerAt {
            conversation: name,
            id: MessageId(0),
            ts,
        };
        if !asking && ts.0 == req.ts {
            me.push(
                &Event::new(ServerFrame::ReadMarkerAt(marker.clone())),
                Some(conn),
            );
        }
        return Ok(ServerFrame::ReadMarkerAt(marker)).into();
    }
    let store = std::sync::Arc::clone(&ctx.state.store);
    let work = async move {
        if !asking {
            store
                .mark_read_at(account, conversation, Timestamp(req.ts))
                .await?;
        }
        let markers = store.read_markers(account).await?;
        Ok::<_, crate::store::StoreError>(
            markers.into_iter().find(|m| m.conversation == conversation),
        )
    };
    later(false, work, move |found, _ctx| match found {
        Ok(found) => {
            let (id, ts) = found.map_or((MessageId(0), Timestamp(0)), |m| (m.up_to, m.ts));
            let marker = ReadMarkerAt {
                conversation: name,
                id,
                ts,
            };
            if !asking && ts.0 == req.ts {
                me.push(
                    &Event::new(ServerFrame::ReadMarkerAt(marker.clone())),
                    Some(conn),
                );
            }
            Ok(ServerFrame::ReadMarkerAt(marker)).into()
        }
        Err(error) => CmdError::from(error).into(),
    })
}

/// The conversation `name` means for `me`, whether or not it exists or
/// `me` is in it.
fn named(name: &str, me: NameKey) -> Result<ConversationKey, CmdError> {
    if name == BROADCAST_CONVERSATION {
        return Ok(ConversationKey::Broadcast);
    }
    let invalid = || {
        CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{name:?} is neither a user name, a room nor `*`"),
        )
    };
    if name.starts_with('#') {
        return RoomKey::fold(name)
            .map(ConversationKey::Room)
            .ok_or_else(invalid);
    }
    NameKey::fold(name)
        .map(|peer| ConversationKey::direct(me, peer))
        .ok_or_else(invalid)
}
