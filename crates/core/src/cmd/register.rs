//! REGISTER: claim a name for this connection, as a guest or by logging in
//! to an account (creating it if sign-up is open).
//!
//! Checked before any slow work: the name, the advertised address, bans,
//! whether someone online has the name, the password throttles. Then, off
//! the connection task: the account lookup and the argon2 hash. The
//! session reads no further request until the answer is in.
//!
//! A name that is not an account yet (a guest, or an account being created)
//! must not look like another's: one with the confusable skeleton of an
//! account or of a user online under another name is NameTaken.
//!
//! A guest needs no database: when it cannot be reached, whether the name
//! is an account's (or looks like one) is answered from the names this
//! node keeps in memory ([`crate::state::AccountNames`]). Logging in to an
//! account, or creating one, fails with StorageFailure meanwhile.

use std::net::IpAddr;
use std::sync::Arc;

use chinwag_proto::request::Register;
use chinwag_proto::server::{MuteState, Registered, Timestamp};
use chinwag_proto::{ErrorCode, ServerFrame, UserName};

use super::{CmdError, Ctx, Outcome, format_remaining, later};
use crate::accounts::{self, too_many_attempts};
use crate::config::{Guests, Signup};
use crate::delivery::{ClaimError, Delivery, NameClaim, Order};
use crate::inbox::Inbox;
use crate::ops;
use crate::ops::login::{Online, name_taken};
use crate::secrets::Secret;
use crate::session::Phase;
use crate::state::Link;
use crate::state::account_names::Known;
use crate::store::{BanRecord, Store, StoreError};

/// How a REGISTER was admitted.
enum Login {
    Guest,
    /// An existing account, with its role, when it was created and whom
    /// it ignores.
    Account {
        admin: bool,
        since: Timestamp,
        ignoring: Vec<UserName>,
        metadata: Vec<(String, String)>,
    },
    /// A new account, just created.
    Created {
        since: Timestamp,
    },
}

pub fn apply(req: Register, ctx: &mut Ctx<'_>) -> Outcome {
    if let Err(refused) = server_password(ctx) {
        return refused.into();
    }
    match check(&req, ctx) {
        Ok(name) => {
            // Looked up now, on the connection task; it counts only if the
            // name turns out not to be an account.
            let lookalike = ctx
                .state
                .users
                .lookalike(&name)
                .map(|peer| peer.name.to_string());
            login(req, name, lookalike, ctx)
        }
        Err(e) => e.into(),
    }
}

/// A server with a password (`--server-password`) registers only
/// connections that gave it (HELLO's `server_password`, IRC's PASS); any
/// other is refused and closed.
fn server_password(ctx: &mut Ctx<'_>) -> Result<(), CmdError> {
    use subtle::ConstantTimeEq;
    let Some(expected) = &ctx.state.config.server_password else {
        return Ok(());
    };
    if ctx.conn.peer.is_some() {
        return Ok(());
    }
    let given = ctx.conn.server_password.as_bytes();
    if bool::from(given.ct_eq(expected.as_bytes())) {
        return Ok(());
    }
    ctx.conn.leave = Some(crate::session::Leave::Protocol("wrong server password"));
    Err(CmdError::new(
        ErrorCode::BadPassword,
        if given.is_empty() {
            "this server needs its password to connect"
        } else {
            "wrong server password"
        },
    ))
}

/// Everything that needs neither the store nor a hash.
fn check(req: &Register, ctx: &Ctx<'_>) -> Result<UserName, CmdError> {
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
    advertised_addr(&req.ip, req.port)?;
    let ip = ctx.conn.addr.ip();
    if let Some(ban) = ctx.state.bans.keeps_out(&name.key(), ip, ctx.now.wall) {
        return Err(banned(&ban, ctx));
    }
    // An account online here may take one more session (its password is
    // checked below); any other name online is taken.
    let online_here = ctx.state.users.get(name.as_str()).is_some();
    if online_here
        && (req.password.is_empty()
            || !ctx.state.users.may_log_in(name.as_str(), req.multi_session))
    {
        return Err(name_taken(&name));
    }
    // Nor online elsewhere, but for an account whose sessions there
    // share it (the claim decides, atomically); and if elsewhere cannot
    // be asked now, whether it is cannot be known.
    if !online_here {
        let delivery = ctx.state.delivery();
        if let Some(found) = delivery.locate(name.as_str())
            && (req.password.is_empty() || !found.shared || !req.multi_session)
        {
            return Err(name_taken(&name));
        }
        delivery.reachable()?;
    }
    if !req.password.is_empty() {
        ctx.conn
            .throttle
            .check(ctx.now.mono)
            .and_then(|()| {
                ctx.state
                    .secrets
                    .check(Secret::Account(name.key()), ip, ctx.now.mono)
            })
            .map_err(too_many_attempts)?;
    }
    Ok(name)
}

/// `lookalike_online`: the name of a user online who looks like `name`.
fn login(
    req: Register,
    name: UserName,
    lookalike_online: Option<String>,
    ctx: &mut Ctx<'_>,
) -> Outcome {
    let store = Arc::clone(&ctx.state.store);
    let config = &ctx.state.config;
    let (signup, guests) = (config.signup, config.guests);
    let password = req.password.to_string();
    let spelling = name.clone();
    let claim = name_claim(&req, &name, ctx);
    let claiming = claim.is_some();
    // What this node knows of the accounts' names, for a guest: all
    // there is to know when this process alone writes the database (no
    // query then: measured, the two queries were most of a guest's
    // registration), else a fallback if the database cannot answer.
    let known = password
        .is_empty()
        .then(|| ctx.state.account_names.known(&name));
    let sole_writer = store.sole_writer();
    let work = async move {
        let answered = match &known {
            Some(known) if sole_writer => Ok(guest_by_names(
                known.clone(),
                &spelling,
                lookalike_online.clone(),
                guests,
            )),
            _ => {
                by_store(
                    &*store,
                    &spelling,
                    lookalike_online.clone(),
                    password,
                    (signup, guests),
                )
                .await
            }
        };
        let admitted = match (answered, known) {
            (Ok(admitted), _) => admitted,
            (Err(StoreError::Failed(why)), Some(known)) => {
                tracing::warn!(%why, "database unreachable: a guest is checked against the account names known here");
                guest_by_names(known, &spelling, lookalike_online, guests)
            }
            (Err(error), _) => return Err(error),
        };
        // Where names are claimed beyond this node, the claim comes before
        // the name is taken here: of several nodes racing for it, exactly
        // one gets it.
        // An account that shares its sessions may be online on other
        // nodes already: the claim then joins theirs.
        let mut online_elsewhere = false;
        if let (Ok(login), Some((delivery, mut claim))) = (&admitted, claim) {
            claim.admin = matches!(login, Login::Account { admin: true, .. });
            claim.account = !matches!(login, Login::Guest);
            match delivery.claim(claim).await {
                Ok(alone) => online_elsewhere = !alone,
                Err(ClaimError::Taken) => return Ok(Err(name_taken(&spelling))),
                Err(ClaimError::Unavailable(error)) => return Ok(Err(CmdError::from(error))),
            }
        }
        Ok::<_, StoreError>(admitted.map(|login| (login, online_elsewhere)))
    };
    later(true, work, move |admitted, ctx| {
        let with_password = !req.password.is_empty();
        let (login, online_elsewhere) = match admitted {
            Ok(Ok(admitted)) => admitted,
            Ok(Err(refused)) => {
                if with_password && refused.code == ErrorCode::BadPassword {
                    ctx.conn.throttle.failed(ctx.now.mono);
                    ctx.state.secrets.failed(
                        Secret::Account(name.key()),
                        ctx.conn.addr.ip(),
                        ctx.now.mono,
                    );
                    tracing::warn!(user = %name, "wrong account password");
                }
                return refused.into();
            }
            Err(error) => return CmdError::from(error).into(),
        };
        if with_password {
            ctx.conn.throttle.succeeded();
            ctx.state.secrets.succeeded(
                Secret::Account(name.key()),
                ctx.conn.addr.ip(),
                ctx.now.mono,
            );
        }
        finish(req, name, login, (claiming, online_elsewhere), ctx)
    })
}

/// Whether `name` may come in, as the store says: the account, its
/// password, a new account or a guest; with an account's ignores and
/// metadata.
async fn by_store(
    store: &dyn Store,
    name: &UserName,
    lookalike_online: Option<String>,
    password: String,
    (signup, guests): (Signup, Guests),
) -> Result<Result<Login, CmdError>, StoreError> {
    let key = name.key();
    let account = store.account(key).await?;
    let refused = match account {
        None => new_name_looks_like(store, name, lookalike_online).await?,
        Some(_) => None,
    };
    let mut admitted = match refused {
        Some(refused) => Err(refused),
        None => admit(store, account, name.clone(), password, signup, guests).await?,
    };
    if let Ok(Login::Account {
        ignoring, metadata, ..
    }) = &mut admitted
    {
        *ignoring = store.ignores(key).await?;
        *metadata = store.metadata(key).await?;
    }
    Ok(admitted)
}

/// Whether a guest may take `name` while the database cannot be reached:
/// decided on the accounts' names this node knows
/// ([`crate::state::AccountNames`]), by the same rules as [`by_store`].
fn guest_by_names(
    known: Known,
    name: &UserName,
    lookalike_online: Option<String>,
    guests: Guests,
) -> Result<Login, CmdError> {
    // In `by_store`'s order: an account's name, a lookalike, then guests
    // refused altogether.
    match (known, lookalike_online) {
        (Known::Account, _) => Err(account_required(name)),
        (_, Some(existing)) | (Known::LooksLike(existing), None) => {
            Err(looks_like(name, &existing))
        }
        (Known::Free, None) if guests == Guests::Deny => Err(accounts_only()),
        (Known::Free, None) => Ok(Login::Guest),
    }
}

/// The refusal of a name that is no account yet but looks like an
/// account's or like the name of a user online (`lookalike_online`).
async fn new_name_looks_like(
    store: &dyn Store,
    name: &UserName,
    lookalike_online: Option<String>,
) -> Result<Option<CmdError>, StoreError> {
    let existing = match lookalike_online {
        Some(online) => Some(online),
        None => store.account_like(name.key()).await?.map(|a| a.name),
    };
    Ok(existing.map(|existing| looks_like(name, &existing)))
}

fn looks_like(name: &UserName, existing: &str) -> CmdError {
    CmdError::new(
        ErrorCode::NameTaken,
        format!("{name} looks like the existing name {existing}; choose another"),
    )
}

fn account_required(name: &UserName) -> CmdError {
    CmdError::new(
        ErrorCode::AccountRequired,
        format!("{name} is a registered account; log in with its password"),
    )
}

fn accounts_only() -> CmdError {
    CmdError::new(
        ErrorCode::AccountRequired,
        "this server admits accounts only: register with a password",
    )
}

/// Decides whether the name may be used, creating the account if asked.
async fn admit(
    store: &dyn Store,
    account: Option<crate::store::Account>,
    name: UserName,
    password: String,
    signup: Signup,
    guests: Guests,
) -> Result<Result<Login, CmdError>, StoreError> {
    match (account, password.is_empty()) {
        (Some(_), true) => Ok(Err(account_required(&name))),
        (None, true) if guests == Guests::Deny => Ok(Err(accounts_only())),
        (None, true) => Ok(Ok(Login::Guest)),
        (Some(account), false) => {
            if accounts::verify(password, account.password_hash).await {
                Ok(Ok(Login::Account {
                    admin: account.admin,
                    since: account.created_at,
                    ignoring: Vec::new(),
                    metadata: Vec::new(),
                }))
            } else {
                Ok(Err(CmdError::new(
                    ErrorCode::BadPassword,
                    format!("wrong password for {name}"),
                )))
            }
        }
        (None, false) => {
            if signup == Signup::Closed {
                return Ok(Err(CmdError::new(
                    ErrorCode::SignupClosed,
                    format!("{name} has no account and this server does not create accounts"),
                )));
            }
            if let Err(refused) = accounts::check_new_password(&password) {
                return Ok(Err(refused));
            }
            let hash = match accounts::hash(password).await {
                Ok(hash) => hash,
                Err(refused) => return Ok(Err(refused)),
            };
            let now = Timestamp::now();
            if store.create_account(name.clone(), hash, now).await? {
                tracing::info!(user = %name, "account created");
                Ok(Ok(Login::Created { since: now }))
            } else {
                Ok(Err(CmdError::new(
                    ErrorCode::NameTaken,
                    format!("{name} was registered by someone else just now"),
                )))
            }
        }
    }
}

/// What a claim of the name beyond this node needs, made up front (the
/// work runs off the connection); `None` where names are not claimed (a
/// single node), and for a session joining an account online here (its
/// first session holds the claim).
fn name_claim(
    req: &Register,
    name: &UserName,
    ctx: &Ctx<'_>,
) -> Option<(Arc<dyn Delivery>, NameClaim)> {
    let delivery = ctx.state.delivery();
    if !delivery.claims_names() || ctx.state.users.get(name.as_str()).is_some() {
        return None;
    }
    let claim = NameClaim {
        name: name.clone(),
        conn: ctx.conn.id,
        admin: false,
        account: false,
        shared: req.multi_session,
        muted: ctx.state.mutes.get(&name.key(), ctx.now.wall),
        addr: ctx.conn.addr.to_string(),
        advertised: advertised_addr(&req.ip, req.port).unwrap_or_default(),
        since: ctx.now.wall,
    };
    Some((Arc::clone(delivery), claim))
}

/// Brings the user online with this session (see [`ops::login`]) and
/// makes this connection a registered one.
fn finish(
    req: Register,
    name: UserName,
    login: Login,
    (claimed_elsewhere, online_elsewhere): (bool, bool),
    ctx: &mut Ctx<'_>,
) -> Outcome {
    let account = !matches!(login, Login::Guest);
    let created = matches!(login, Login::Created { .. });
    let advertised = match advertised_addr(&req.ip, req.port) {
        Ok(advertised) => advertised,
        Err(e) => return e.into(),
    };
    let link = Arc::new(
        Link::new(
            ctx.conn.id,
            Arc::clone(&ctx.conn.outbox),
            ctx.conn.addr,
            advertised,
            ctx.now.wall,
        )
        .shared(account && req.multi_session),
    );
    let login = ops::login::Login {
        name: name.clone(),
        link: Arc::clone(&link),
        account,
        admin: matches!(login, Login::Account { admin: true, .. }),
        account_since: match login {
            Login::Account { since, .. } | Login::Created { since } => since,
            Login::Guest => Timestamp(0),
        },
        metadata: match &login {
            Login::Account { metadata, .. } => metadata.clone(),
            Login::Created { .. } | Login::Guest => Vec::new(),
        },
        ignoring: match login {
            Login::Account { ignoring, .. } => ignoring,
            Login::Created { .. } | Login::Guest => Vec::new(),
        },
        claimed_elsewhere,
        online_elsewhere,
        profile: ctx.conn.profile.clone(),
    };
    let Online { peer, muted, .. } = match ops::login::login(ctx.state, login, ctx.now.wall) {
        Ok(online) => online,
        Err(refused) => return refused.into(),
    };
    if created {
        // Known as an account's name everywhere, for guests registering
        // while the database is away; a node cut off from the others
        // misses it (and learns it at its next start).
        ctx.state.account_names.insert(&name);
        if let Err(error) = ctx.state.delivery().order_all(Order::Account(name.clone())) {
            tracing::debug!(%error, "cannot tell the other nodes of a new account");
        }
    }
    tracing::Span::current().record("user", name.as_str());
    tracing::info!(account, sessions = peer.sessions().len(), "registered");
    ctx.conn.phase = Phase::Registered;
    ctx.conn.peer = Some(Arc::clone(&peer));
    ctx.conn.profile = None;
    // A connection that shows no messages (a one-shot command) leaves the
    // queue for the next one that does.
    if account && req.take_offline {
        let key = name.key();
        let delivered = ctx.state.delivered_mark(&key);
        ctx.conn.inbox = Some(Inbox::new(key, Arc::clone(&link.inbox), delivered));
    }
    Ok(ServerFrame::Registered(Registered {
        name: peer.name.as_str().into(),
        role: peer.role(),
        muted,
        server_time: ctx.now.wall,
    }))
    .into()
}

/// The error for a banned name or address: the reason and how long.
pub fn banned(ban: &BanRecord, ctx: &Ctx<'_>) -> CmdError {
    let how_long = match ban.until {
        MuteState::Until(end) => format!("for another {}", format_remaining(end, ctx.now.wall)),
        _ => "for good".to_owned(),
    };
    let reason = if ban.reason.is_empty() {
        "no reason given"
    } else {
        &ban.reason
    };
    CmdError::new(
        ErrorCode::Banned,
        format!("{} is banned {how_long}: {reason}", ban.target),
    )
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
