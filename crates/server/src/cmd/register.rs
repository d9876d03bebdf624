//! REGISTER: claim a name for this connection.

use std::net::IpAddr;
use std::sync::Arc;

use chinwag_proto::request::Register;
use chinwag_proto::server::{Notice, NoticeKind, Registered};
use chinwag_proto::{ErrorCode, ServerFrame, UserName};

use super::{CmdError, Ctx, Reply};
use crate::session::Phase;
use crate::state::Peer;

pub fn apply(req: Register, ctx: &mut Ctx<'_>) -> Reply {
    if let Some(me) = &ctx.conn.peer {
        return Err(CmdError::new(
            ErrorCode::AlreadyRegistered,
            format!("this connection is already registered as {}", me.name),
        ));
    }
    let name = UserName::parse(&req.name)
        .map_err(|e| CmdError::new(ErrorCode::InvalidName, format!("invalid name: {e}")))?;
    let max_name = usize::from(ctx.state.config.limits.max_name);
    if name.as_str().len() > max_name {
        return Err(CmdError::new(
            ErrorCode::InvalidName,
            format!("invalid name: longer than this server's {max_name} bytes"),
        ));
    }
    if !req.password.is_empty() {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            "this server has no accounts: register without a password",
        ));
    }
    let advertised = advertised_addr(&req.ip, req.port)?;

    let peer = Arc::new(Peer::new(
        ctx.conn.id,
        name.clone(),
        Arc::clone(&ctx.conn.outbox),
        ctx.conn.addr,
        advertised,
        ctx.now.wall,
    ));
    ctx.state.users.claim(Arc::clone(&peer)).map_err(|_| {
        CmdError::new(
            ErrorCode::NameTaken,
            format!("the name {name} is taken by someone online"),
        )
    })?;
    // Claim first, then read the mute: see state::mutes for why this order.
    let muted = ctx.state.mutes.get(&name.key(), ctx.now.wall);
    peer.set_muted(muted);

    tracing::Span::current().record("user", name.as_str());
    tracing::info!("registered");
    ctx.conn.phase = Phase::Registered;
    ctx.conn.peer = Some(Arc::clone(&peer));
    ctx.state.announce_presence(
        &ServerFrame::Notice(Notice {
            kind: NoticeKind::Joined,
            ts: ctx.now.wall,
            actor: "".into(),
            subject: name.as_str().into(),
            until: 0,
            text: "".into(),
        }),
        Some(ctx.conn.id),
    );
    Ok(ServerFrame::Registered(Registered {
        name: name.as_str().into(),
        role: peer.role(),
        muted,
        server_time: ctx.now.wall,
    }))
}

/// The address a client advertises: empty, or an IP address and a port.
fn advertised_addr(ip: &str, port: u16) -> Result<String, CmdError> {
    if ip.is_empty() {
        return Ok(if port == 0 {
            String::new()
        } else {
            format!(":{port}")
        });
    }
    let ip: IpAddr = ip.parse().map_err(|_| {
        CmdError::new(
            ErrorCode::InvalidArgument,
            format!("ip {ip:?} is not an IP address"),
        )
    })?;
    Ok(std::net::SocketAddr::new(ip, port).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertised_addresses() {
        assert_eq!(advertised_addr("", 0).unwrap(), "");
        assert_eq!(advertised_addr("10.0.0.1", 5000).unwrap(), "10.0.0.1:5000");
        assert_eq!(advertised_addr("::1", 7).unwrap(), "[::1]:7");
        assert_eq!(
            advertised_addr("bad host", 1).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }
}
