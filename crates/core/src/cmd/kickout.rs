//! KICKOUT: tell the target why, disconnect it, tell everyone else, and
//! log it (see [`crate::ops::kick`]). The target may be elsewhere (on
//! other nodes, an account maybe here too): the kick is sent there, and
//! this node tells everyone it left, once; the answer from there is the
//! reply.

use std::sync::Arc;

use chinwag_proto::request::Kickout;
use chinwag_proto::{ErrorCode, ServerFrame, UserName};

use super::{CmdError, Ctx, Outcome, check_reason, later, no_such_user};
use crate::delivery::{Elsewhere, Order};
use crate::ops::kick::{kick, kicked};
use crate::ops::login::Tell;
use crate::state::Peer;
use crate::store::AuditAction;

pub fn apply(req: Kickout, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    if let Err(e) = check_reason(&req.reason, ctx) {
        return e.into();
    }
    let here = ctx.state.users.get(&req.dst);
    if let Some(found) = ctx.state.delivery().locate(&req.dst) {
        return kick_elsewhere(req, admin, (found, here), ctx);
    }
    let Some(victim) = here else {
        return no_such_user(&req.dst).into();
    };
    if !kick(
        ctx.state,
        &victim,
        admin.as_str(),
        &req.reason,
        ctx.now.wall,
        Tell::UnlessElsewhere,
    ) {
        return no_such_user(&req.dst).into();
    }
    logged(ctx, &admin, victim.name.as_str(), &req.reason)
}

/// A user on other nodes (`found`), and maybe on this one too (`here`):
/// each kicks its sessions, and this node tells everyone it left.
fn kick_elsewhere(
    req: Kickout,
    admin: UserName,
    (found, here): (Elsewhere, Option<Arc<Peer>>),
    ctx: &mut Ctx<'_>,
) -> Outcome {
    let kicked_here = here.is_some_and(|victim| {
        kick(
            ctx.state,
            &victim,
            admin.as_str(),
            &req.reason,
            ctx.now.wall,
            Tell::Nobody,
        )
    });
    let delivery = ctx.state.delivery();
    let name = found.name.clone();
    let at = ctx.now.wall;
    let order = Order::Kick {
        user: name.clone(),
        admin: admin.to_string(),
        reason: req.reason.to_string(),
        at,
    };
    later(
        false,
        delivery.order(&found, order),
        move |handed, ctx| match handed.into_result() {
            Err(refused) if !kicked_here => refused.into(),
            _ => {
                if let Ok(user) = UserName::parse(&name) {
                    kicked(ctx.state, &user, admin.as_str(), &req.reason, at);
                }
                logged(ctx, &admin, &name, &req.reason)
            }
        },
    )
}

/// The kick is done; the reply waits until it is in the audit log.
fn logged(ctx: &mut Ctx<'_>, admin: &UserName, name: &str, reason: &str) -> Outcome {
    let record =
        ctx.state.store.record(
            ctx.state
                .audit(admin.as_str(), AuditAction::Kick, name, 0, reason),
        );
    let name = name.to_owned();
    later(false, record, move |written, _| {
        Outcome::Ready(match written {
            Ok(()) => Ok(ServerFrame::ok(format!("kicked {name}"))),
            Err(error) => Err(CmdError::new(
                ErrorCode::StorageFailure,
                format!("kicked {name}, but the audit log could not record it: {error}"),
            )),
        })
    })
}
