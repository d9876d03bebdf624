//! UNBAN: lift a ban on a name or an address, here and on every other node.

use chinwag_proto::request::Target;
use chinwag_proto::{ErrorCode, ServerFrame};

use super::bantalk::told_nobody;
use super::{CmdError, Ctx, Outcome, later};
use crate::delivery::Order;
use crate::store::{AuditAction, BanTarget};

pub fn apply(req: Target, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    let Some(target) = BanTarget::parse(&req.dst) else {
        return CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{:?} is neither a user name nor an IP address", &*req.dst),
        )
        .into();
    };
    let audit = ctx.state.audit(
        admin.as_str(),
        AuditAction::Unban,
        &target.to_string(),
        0,
        "",
    );
    if let Err(error) = ctx.state.delivery().reachable() {
        return CmdError::from(error).into();
    }
    let write = ctx.state.store.unban(target.clone(), audit);
    later(false, write, move |lifted, ctx| {
        if lifted.is_ok() {
            ctx.state.bans.lift(&target);
            let order = Order::Unban(target.clone());
            if let Err(error) = ctx.state.delivery().order_all(order) {
                return told_nobody(&target.to_string(), error);
            }
        }
        match lifted {
            Ok(true) => {
                tracing::info!(%target, "unbanned");
                Ok(ServerFrame::ok(format!("unbanned {target}"))).into()
            }
            Ok(false) => CmdError::new(
                ErrorCode::InvalidArgument,
                format!("{target} is not banned"),
            )
            .into(),
            Err(error) => CmdError::from(error).into(),
        }
    })
}
