//! NICK: a guest changes its name. The new name passes the checks a
//! guest's REGISTER passes (a valid name, not banned, not online here or
//! elsewhere, not an account, not like another's); a change of case only
//! is always free. An account's name is the account: it does not change
//! (log in as the other name instead). Renaming while muted is refused
//! like any text put in front of others (the router's mute rule).
//!
//! The old name is freed exactly once, recorded for WHOWAS, and those
//! concerned are told (USER_UPDATE, see [`ops::users`]). The answer is
//! REGISTERED with the new name.

use std::sync::Arc;

use chinwag_proto::request::Target;
use chinwag_proto::server::Registered;
use chinwag_proto::{ErrorCode, ServerFrame, UserName};

use super::register::banned;
use super::{CmdError, Ctx, Outcome, later};
use crate::delivery::{ClaimError, NameClaim};
use crate::ops;
use crate::ops::login::name_taken;
use crate::state::Peer;
use crate::store::StoreError;

pub fn apply(req: Target, ctx: &mut Ctx<'_>) -> Outcome {
    let me = match ctx.me() {
        Ok(me) => Arc::clone(me),
        Err(e) => return e.into(),
    };
    let name = match check(&req.dst, &me, ctx) {
        Ok(Some(name)) => name,
        Ok(None) => return Ok(registered(&me, ctx)).into(),
        Err(e) => return e.into(),
    };
    let moved = name.key() != me.name.key();
    let store = Arc::clone(&ctx.state.store);
    let delivery = Arc::clone(ctx.state.delivery());
    let claim = (moved && delivery.claims_names()).then(|| NameClaim {
        name: name.clone(),
        conn: me.id,
        admin: me.is_admin(),
        account: false,
        shared: false,
        muted: ctx.state.mutes.get(&name.key(), ctx.now.wall),
        addr: ctx.conn.addr.to_string(),
        advertised: me.first().map(|l| l.advertised.clone()).unwrap_or_default(),
        since: me.first().map_or(ctx.now.wall, |l| l.connected_at),
    });
    let claiming = claim.is_some();
    let spelling = name.clone();
    let my_key = me.name.key();
    let work = async move {
        if moved {
            if store.account(spelling.key()).await?.is_some() {
                return Ok(Err(CmdError::new(
                    ErrorCode::AccountRequired,
                    format!(
                        "{spelling} is a registered account; log in with its password to use it"
                    ),
                )));
            }
            if let Some(like) = store.account_like(spelling.key()).await?
                && UserName::parse(&like.name).map(|n| n.key()).ok() != Some(my_key)
            {
                return Ok(Err(looks_like(&spelling, &like.name)));
            }
        }
        if let Some(claim) = claim {
            match delivery.claim(claim).await {
                Ok(_) => {}
                Err(ClaimError::Taken) => return Ok(Err(name_taken(&spelling))),
                Err(ClaimError::Unavailable(error)) => return Ok(Err(CmdError::from(error))),
            }
        }
        Ok::<_, StoreError>(Ok(()))
    };
    later(true, work, move |checked, ctx| {
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(refused)) => return refused.into(),
            Err(error) => return CmdError::from(error).into(),
        }
        // The session's peer may have changed meanwhile (a kick): rename
        // only the user this session still is.
        let still = ctx.conn.peer.as_ref().is_some_and(|p| Arc::ptr_eq(p, &me));
        if !still {
            if claiming {
                ctx.state.delivery().release(name.key(), me.id, None);
            }
            return CmdError::new(ErrorCode::NotRegistered, "register first").into();
        }
        match ops::users::rename(ctx.state, &me, name, ctx.conn.id, ctx.now.wall, claiming) {
            Ok(renamed) => {
                tracing::info!(from = %me.name, to = %renamed.name, "renamed");
                ctx.conn.peer = Some(Arc::clone(&renamed));
                Ok(registered(&renamed, ctx)).into()
            }
            Err(refused) => refused.into(),
        }
    })
}

/// The new name, or `None` when it is the name already (nothing to do).
fn check(wanted: &str, me: &Peer, ctx: &Ctx<'_>) -> Result<Option<UserName>, CmdError> {
    let name = UserName::parse(wanted)
        .map_err(|e| CmdError::new(ErrorCode::InvalidName, format!("invalid name: {e}")))?;
    let max_name = usize::from(ctx.state.config.limits.max_name);
    if name.as_str().len() > max_name {
        return Err(CmdError::new(
            ErrorCode::InvalidName,
            format!("invalid name: longer than this server's {max_name} bytes"),
        ));
    }
    if name.as_str() == me.name.as_str() {
        return Ok(None);
    }
    if me.account {
        return Err(CmdError::new(
            ErrorCode::Forbidden,
            format!(
                "{} is an account, and an account's name does not change; log in as {name} to use that name",
                me.name
            ),
        ));
    }
    if name.key() == me.name.key() {
        // The same name, spelled otherwise: nobody else can hold it.
        return Ok(Some(name));
    }
    if let Some(ban) = ctx
        .state
        .bans
        .keeps_out(&name.key(), ctx.conn.addr.ip(), ctx.now.wall)
    {
        return Err(banned(&ban, ctx));
    }
    if ctx.state.users.get(name.as_str()).is_some() {
        return Err(name_taken(&name));
    }
    let delivery = ctx.state.delivery();
    if delivery.locate(name.as_str()).is_some() {
        return Err(name_taken(&name));
    }
    delivery.reachable()?;
    if let Some(other) = ctx.state.users.lookalike(&name)
        && other.name.key() != me.name.key()
    {
        return Err(looks_like(&name, other.name.as_str()));
    }
    Ok(Some(name))
}

fn looks_like(name: &UserName, existing: &str) -> CmdError {
    CmdError::new(
        ErrorCode::NameTaken,
        format!("{name} looks like the existing name {existing}; choose another"),
    )
}

fn registered(peer: &Peer, ctx: &Ctx<'_>) -> ServerFrame {
    ServerFrame::Registered(Registered {
        name: peer.name.as_str().into(),
        role: peer.role(),
        muted: peer.muted(ctx.now.wall),
        server_time: ctx.now.wall,
    })
}
