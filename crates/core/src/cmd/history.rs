//! HISTORY: a page of one conversation the sender is part of: a direct
//! conversation (accounts only: a guest name is anyone's, so its history
//! is nobody's), the broadcast channel, a room the sender is a member of
//! (administrators: any room), or `@me`: all of the sender's at once.
//!
//! `@me` is how a reader catching up (NOTICE CatchUp) reads what it
//! missed, so it also resumes live delivery to it, before the page is
//! read: every message refused meanwhile was stored before it was
//! refused, so the reads that follow find it. A reader that has never
//! sent `@me` does not know about catch-up and is disconnected when it
//! falls behind (see [`crate::outbox`]).

use chinwag_proto::request::{BROADCAST_CONVERSATION, History, MY_CONVERSATIONS};
use chinwag_proto::server::MessageId;
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::{CmdError, Ctx, Outcome, later, page_limit};
use crate::store::{Conversation, HistoryQuery};
use crate::store_wire;

pub fn apply(req: History, ctx: &mut Ctx<'_>) -> Outcome {
    match query(&req, ctx) {
        Ok(query) => later(
            false,
            ctx.state.store.history(query),
            |page, _| match page {
                Ok(messages) => Ok(ServerFrame::HistoryPage(
                    messages.iter().map(store_wire::message).collect(),
                ))
                .into(),
                Err(error) => CmdError::from(error).into(),
            },
        ),
        Err(e) => e.into(),
    }
}

fn query(req: &History, ctx: &Ctx<'_>) -> Result<HistoryQuery, CmdError> {
    let me = ctx.me()?;
    let limit = page_limit(req.limit)?;
    let conversation = if &*req.dst == BROADCAST_CONVERSATION {
        Conversation::Broadcast
    } else if req.dst.starts_with('#') {
        room_conversation(&req.dst, ctx)?
    } else if &*req.dst == MY_CONVERSATIONS {
        if ctx.conn.outbox.reader_fetches_history(me.account) {
            tracing::debug!("catching up; live delivery resumes");
        }
        if me.account {
            Conversation::Reader(me.name.key())
        } else {
            Conversation::Broadcast
        }
    } else {
        if !me.account {
            return Err(CmdError::new(
                ErrorCode::AccountRequired,
                "only accounts have direct message history; guests may read `*`",
            ));
        }
        let peer = NameKey::fold(&req.dst).ok_or_else(|| {
            CmdError::new(
                ErrorCode::InvalidArgument,
                format!("{:?} is neither a user name nor `*`", &*req.dst),
            )
        })?;
        Conversation::Direct(me.name.key(), peer)
    };
    let bound = |id: u64| (id != 0).then_some(MessageId(id));
    Ok(HistoryQuery {
        conversation,
        before: bound(req.before),
        after: bound(req.after),
        limit,
        // History belongs to the account: a guest who used the name before
        // it existed talked as someone else.
        direct_since: me.account_since,
    })
}

/// A room's history is for its members (and administrators). A member
/// who was offline reads what it missed here, from the last id it saw.
fn room_conversation(name: &str, ctx: &Ctx<'_>) -> Result<Conversation, CmdError> {
    let me = ctx.me()?;
    let room = ctx.state.rooms.get(name).ok_or_else(|| {
        CmdError::new(ErrorCode::NoSuchRoom, format!("there is no room {name:?}"))
    })?;
    if !me.is_admin() && room.read().member(&me.name.key()).is_none() {
        return Err(CmdError::new(
            ErrorCode::NotAMember,
            format!("only members of {} may read its history", room.name),
        ));
    }
    Ok(Conversation::Room(room.name.key()))
}
