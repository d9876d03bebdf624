//! PASSWD: change the account's password, given the current one.

use std::sync::Arc;

use chinwag_proto::request::Passwd;
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{CmdError, Ctx, Outcome, later};
use crate::accounts::{self, too_many_attempts};
use crate::secrets::Secret;
use crate::store::StoreError;

pub fn apply(req: Passwd, ctx: &mut Ctx<'_>) -> Outcome {
    let me = match ctx.me() {
        Ok(me) => Arc::clone(me),
        Err(e) => return e.into(),
    };
    if !me.account {
        return CmdError::new(
            ErrorCode::AccountRequired,
            "guests have no password; register with a password to create an account",
        )
        .into();
    }
    let ip = ctx.conn.addr.ip();
    if let Err(wait) = ctx.conn.throttle.check(ctx.now.mono).and_then(|()| {
        ctx.state
            .secrets
            .check(Secret::Account(me.name.key()), ip, ctx.now.mono)
    }) {
        return too_many_attempts(wait).into();
    }
    if let Err(e) = accounts::check_new_password(&req.new) {
        return e.into();
    }
    let store = Arc::clone(&ctx.state.store);
    let key = me.name.key();
    let work = async move {
        let Some(account) = store.account(key).await? else {
            return Ok(Err(CmdError::new(
                ErrorCode::AccountRequired,
                "this account no longer exists",
            )));
        };
        if !accounts::verify(req.old.to_string(), account.password_hash).await {
            return Ok(Err(CmdError::new(
                ErrorCode::BadPassword,
                "the current password is wrong",
            )));
        }
        let hash = match accounts::hash(req.new.to_string()).await {
            Ok(hash) => hash,
            Err(e) => return Ok(Err(e)),
        };
        store.set_password(key, hash).await?;
        Ok::<_, StoreError>(Ok(()))
    };
    later(true, work, move |changed, ctx| match changed {
        Ok(Ok(())) => {
            ctx.conn.throttle.succeeded();
            ctx.state
                .secrets
                .succeeded(Secret::Account(key), ip, ctx.now.mono);
            tracing::info!("password changed");
            Ok(ServerFrame::ok("password changed")).into()
        }
        Ok(Err(refused)) => {
            if refused.code == ErrorCode::BadPassword {
                ctx.conn.throttle.failed(ctx.now.mono);
                ctx.state
                    .secrets
                    .failed(Secret::Account(key), ip, ctx.now.mono);
            }
            refused.into()
        }
        Err(error) => CmdError::from(error).into(),
    })
}
