//! HELLO: the version handshake.

use chinwag_proto::request::Hello;
use chinwag_proto::server::Welcome;
use chinwag_proto::{ErrorCode, PROTOCOL_VERSION, ServerFrame};

use super::{CmdError, Ctx, Reply};
use crate::session::{Leave, Phase};

pub fn apply(req: Hello, ctx: &mut Ctx<'_>) -> Reply {
    if ctx.conn.phase != Phase::AwaitHello {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            "HELLO was already received on this connection",
        ));
    }
    if req.version != PROTOCOL_VERSION {
        ctx.conn.leave = Some(Leave::Protocol("unsupported version"));
        return Err(CmdError::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "this server speaks protocol version {PROTOCOL_VERSION}, not {}",
                req.version
            ),
        ));
    }
    tracing::debug!(client = %req.client, "hello");
    ctx.conn.server_password = req.server_password;
    ctx.conn.phase = Phase::AwaitRegister;
    let config = &ctx.state.config;
    Ok(ServerFrame::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        server: config.server_name.as_str().into(),
        max_frame: config.limits.max_frame,
        max_name: config.limits.max_name,
        max_content: config.limits.max_content,
        heartbeat_secs: config.heartbeat.as_secs().try_into().unwrap_or(u16::MAX),
    }))
}
