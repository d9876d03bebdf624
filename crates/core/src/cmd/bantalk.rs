//! BANTALK: mute a user for a while, or until an administrator lifts it.
//! The mute is stored (with the audit entry, in one commit) before it takes
//! effect, so it survives reconnects and restarts. An offline account can
//! be muted too, from its next login on (see [`crate::ops::mute`]). The
//! user may be elsewhere (on another node): every node is
//! told, as each keeps the mutes by name.

use std::sync::Arc;

use chinwag_proto::request::Bantalk;
use chinwag_proto::server::MuteState;
use chinwag_proto::{ErrorCode, NameKey, ServerFrame, UserName};

use super::{
    CmdError, Ctx, Outcome, check_reason, ends_after, format_remaining, later, no_such_user,
};
use crate::delivery::{Order, Unavailable};
use crate::ops;
use crate::state::Mute;
use crate::store::{AuditAction, MuteRecord};

pub fn apply(req: Bantalk, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    if let Err(e) = check_reason(&req.reason, ctx) {
        return e.into();
    }
    match online_name(ctx, &req.dst) {
        Ok(name) => mute(req, admin, name, ctx),
        // Offline: an account can be muted before its next login.
        Err(e) if e.code == ErrorCode::NoSuchUser => {
            let Some(key) = NameKey::fold(&req.dst) else {
                return e.into();
            };
            let store = Arc::clone(&ctx.state.store);
            later(
                false,
                async move { store.account(key).await },
                move |account, ctx| match account {
                    Ok(Some(account)) => mute(req, admin, account.name, ctx),
                    Ok(None) => no_such_user(&req.dst).into(),
                    Err(error) => CmdError::from(error).into(),
                },
            )
        }
        Err(e) => e.into(),
    }
}

/// Stores the mute of `name` (spelled as the user or account spells it),
/// then applies it wherever the user is.
fn mute(req: Bantalk, admin: UserName, name: String, ctx: &mut Ctx<'_>) -> Outcome {
    let Some(key) = NameKey::fold(&name) else {
        return no_such_user(&req.dst).into();
    };
    let until = ends_after(req.duration_secs, ctx.now.wall);
    let write = ctx.state.store.set_mute(
        MuteRecord {
            name: key,
            until,
            by: admin.to_string(),
            reason: req.reason.to_string(),
        },
        ctx.state.audit(
            admin.as_str(),
            AuditAction::Mute,
            &name,
            until.to_wire(),
            &req.reason,
        ),
    );
    later(false, write, move |written, ctx| {
        if let Err(error) = written {
            return CmdError::from(error).into();
        }
        let mute = Mute {
            until,
            by: admin.to_string(),
            reason: req.reason.to_string(),
        };
        let order = Order::Mute {
            user: name.clone(),
            mute: mute.clone(),
            secs: req.duration_secs,
            at: ctx.now.wall,
        };
        if let Err(error) = ctx.state.delivery().order_all(order) {
            return told_nobody(&name, error);
        }
        ops::mute::mute(ctx.state, key, mute, req.duration_secs, ctx.now.wall);
        tracing::info!(target_user = %name, secs = req.duration_secs, "muted");
        Ok(ServerFrame::ok(match until {
            MuteState::Until(end) => {
                format!("muted {name} for {}", format_remaining(end, ctx.now.wall))
            }
            _ => format!("muted {name} until lifted"),
        }))
        .into()
    })
}

/// The spelling of an online user's name: on this node, or elsewhere (on
/// another node). If elsewhere cannot be reached, fails at
/// once, before anything is stored.
pub(super) fn online_name(ctx: &Ctx<'_>, dst: &str) -> Result<String, CmdError> {
    if let Some(peer) = ctx.state.users.get(dst) {
        return Ok(peer.name.to_string());
    }
    let delivery = ctx.state.delivery();
    let found = delivery.locate(dst).ok_or_else(|| no_such_user(dst))?;
    delivery.reachable()?;
    Ok(found.name)
}

/// The answer when a stored change could not be sent to the other nodes.
pub(super) fn told_nobody(name: &str, error: Unavailable) -> Outcome {
    CmdError::new(
        chinwag_proto::ErrorCode::ClusterUnavailable,
        format!(
            "the change for {name} is stored, but the other nodes could not be told \
             (they learn it when they restart): {error}"
        ),
    )
    .into()
}
