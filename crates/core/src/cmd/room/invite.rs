//! INVITE: let a user into a room once, whatever its mode, bans and
//! limit (operators). The user must exist: be online, or have an account.

use std::sync::Arc;

use chinwag_proto::room::Invite;
use chinwag_proto::{ErrorCode, NameKey, NoticeKind, RoomRole, ServerFrame, UserName};

use super::{acting_rank, find, notice, tell_user};
use crate::cmd::{CmdError, Ctx, Outcome, later, no_such_user};
use crate::state::Room;
use crate::state::rooms::MAX_INVITATIONS;

pub fn apply(req: Invite, ctx: &mut Ctx<'_>) -> Outcome {
    match check(&req, ctx) {
        Ok((room, user)) => {
            let online = ctx.state.users.get(user.as_str()).is_some()
                || ctx.state.delivery().locate(user.as_str()).is_some();
            if online {
                return invite(room, user, ctx).into();
            }
            let Some(key) = NameKey::fold(user.as_str()) else {
                return no_such_user(user.as_str()).into();
            };
            let store = Arc::clone(&ctx.state.store);
            later(
                false,
                async move { store.account(key).await },
                move |found, ctx| match found {
                    Ok(Some(_)) => invite(room, user, ctx).into(),
                    Ok(None) => no_such_user(user.as_str()).into(),
                    Err(error) => CmdError::from(error).into(),
                },
            )
        }
        Err(e) => e.into(),
    }
}

/// What can be checked before knowing whether the user exists.
fn check(req: &Invite, ctx: &Ctx<'_>) -> Result<(Arc<Room>, UserName), CmdError> {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    let user = UserName::parse(&req.user).map_err(|e| {
        CmdError::new(
            ErrorCode::InvalidName,
            format!("invalid name {:?}: {e}", &*req.user),
        )
    })?;
    {
        let state = room.read();
        acting_rank(&state, me, &room, RoomRole::Operator)?;
        if state.member(&user.key()).is_some() {
            return Err(already_member(&user, &room));
        }
    }
    Ok((room, user))
}

fn already_member(user: &UserName, room: &Room) -> CmdError {
    CmdError::new(
        ErrorCode::InvalidArgument,
        format!("{user} is already a member of {}", room.name),
    )
}

fn invite(room: Arc<Room>, user: UserName, ctx: &mut Ctx<'_>) -> Result<ServerFrame, CmdError> {
    let me = ctx.me()?;
    {
        let mut state = room.write();
        // Checked again: the lock was let go while the store answered.
        acting_rank(&state, me, &room, RoomRole::Operator)?;
        if state.member(&user.key()).is_some() {
            return Err(already_member(&user, &room));
        }
        if !ctx.state.rooms.invite(&room, &mut state, user.key()) {
            return Err(CmdError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "{} has {MAX_INVITATIONS} invitations pending already",
                    room.name
                ),
            ));
        }
    }
    tell_user(
        ctx.state,
        user.as_str(),
        notice(
            NoticeKind::RoomInvited,
            ctx.now.wall,
            &room,
            me.name.as_str(),
            user.as_str(),
            0,
            "",
        ),
    );
    Ok(ServerFrame::ok(format!("invited {user} to {}", room.name)))
}
