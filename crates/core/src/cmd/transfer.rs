//! TRANSFER: store a direct message, then deliver it: live to an online
//! recipient (through the delivery layer, if it is elsewhere), or into the
//! offline queue of an account that is offline.
//!
//! The message reaches the recipient only after it is stored, so what a
//! user saw and what history says always agree, and the SENT the sender
//! gets means the message is durable. A message of client tags alone
//! (a typing notification, a reaction) is not stored: it reaches the
//! recipient if it is online, and nobody otherwise.
//!
//! SENT says, for a recipient that set an away message (PROFILE), what it
//! is, so that every front end can tell the sender (IRC's `301`).
//!
//! What SENT or the error says is what happened, also when the
//! recipient's node is slow or dies mid-request: a message refused in the
//! end (its recipient, a guest, is gone) is deleted again, so that history
//! does not show it as sent; a request another node gets after its
//! deadline is not carried out there; and a message queued
//! for an account whose node did not answer in time is fetched by its
//! sessions there at once
//! ([`crate::delivery::Delivery::queued`]), once.
//!
//! A direct message between two guests is read back by no one (guests
//! have no direct history, and an account reads only what came after its
//! creation), so it does not need the database: if it cannot be stored
//! (the database is away), it is delivered anyway, with an ephemeral id
//! that says so.

use std::sync::Arc;

use chinwag_proto::request::{SendOptions, Transfer};
use chinwag_proto::server::{DeliveryStatus, MessageId, MessageKind, Sent, Timestamp};
use chinwag_proto::{ByteString, ErrorCode, NameKey, ServerFrame, UserName};

use super::{CmdError, Ctx, Outcome, check_message, later, message_frame, no_such_user, tags_only};
use crate::delivery::{Elsewhere, Handed, Unavailable};
use crate::error::undeliverable;
use crate::event::{Event, Shared};
use crate::state::Peer;
use crate::store::{NewMessage, StoreError};

pub fn apply(req: Transfer, ctx: &mut Ctx<'_>) -> Outcome {
    if let Err(e) = check_message(&req.content, &req.options, ctx) {
        return e.into();
    }
    let me = match ctx.me() {
        Ok(me) => Arc::clone(me),
        Err(e) => return e.into(),
    };
    let ts = ctx.now.wall;
    if tags_only(&req.content) {
        return relay(ctx, &me, req, ts, "a message without text is not kept");
    }
    // For USER_LIST's idle time.
    me.spoke(ts);
    let store = Arc::clone(&ctx.state.store);
    let options = req.options.clone();
    if let Some(to) = ctx.state.users.get(&req.dst) {
        let append = store.append(NewMessage {
            ts,
            from: me.name.clone(),
            to: Some(to.name.clone()),
            text: req.content.to_string(),
            notice: options.notice,
            queue_for: None,
        });
        let between_guests = !me.account && !to.account;
        return later(false, append, move |stored, ctx| match stored {
            Ok(id) => deliver(ctx, &me, &to, id, ts, req.content, &options),
            Err(StoreError::Failed(_)) if between_guests => relay(ctx, &me, req, ts, NOT_STORED),
            Err(error) => not_stored(error),
        });
    }
    if let Some(found) = ctx.state.delivery().locate(&req.dst) {
        return send_remote(ctx, me, found, req);
    }
    // Cut off from the other nodes, this node cannot know whether the
    // recipient is online elsewhere.
    if let Err(error) = ctx.state.delivery().reachable() {
        return CmdError::from(error).into();
    }
    // Not online: an account gets it later; anyone else does not exist.
    let Some(key) = NameKey::fold(&req.dst) else {
        return no_such_user(&req.dst).into();
    };
    let from = me.name.clone();
    let text = req.content.to_string();
    let notice = options.notice;
    let work = async move {
        let Some(account) = store.account(key).await? else {
            return Ok(None);
        };
        let to = UserName::parse(&account.name)
            .map_err(|e| StoreError::Failed(format!("stored account name: {e}")))?;
        let id = store
            .append(NewMessage {
                ts,
                from,
                to: Some(to.clone()),
                text,
                notice,
                queue_for: Some(key),
            })
            .await?;
        Ok::<_, StoreError>(Some((id, to)))
    };
    later(false, work, move |stored, ctx| match stored {
        Ok(Some((id, to))) => {
            let event = direct(id, ts, (&me.name, me.flags()), &to, req.content, &options);
            echo(ctx, &me, &to, &event);
            queued(ctx, &to, id, ts)
        }
        Ok(None) => no_such_user(&req.dst).into(),
        Err(error) => not_stored(error),
    })
}

/// The MESSAGE event of a direct message.
fn direct(
    id: MessageId,
    ts: Timestamp,
    (from, flags): (&UserName, u8),
    to: &UserName,
    text: ByteString,
    options: &SendOptions,
) -> Shared {
    Event::from_sender(
        message_frame(
            id,
            ts,
            MessageKind::Direct,
            from.as_str(),
            to.as_str(),
            text,
            options,
        ),
        flags,
    )
}

/// Why a direct message between guests was relayed without being stored.
const NOT_STORED: &str = "the database cannot be reached, so the message is not kept";

/// A message that is not stored (tags alone, or between guests while the
/// database is away, `unkept` says which): handed to the recipient's
/// sessions if it is online (here or elsewhere), never stored or queued,
/// under an ephemeral id.
fn relay(ctx: &mut Ctx<'_>, me: &Arc<Peer>, req: Transfer, ts: Timestamp, unkept: &str) -> Outcome {
    let id = ctx.state.ephemeral_id();
    if let Some(to) = ctx.state.users.get(&req.dst) {
        // A message with text says whether it reached anyone; one of tags
        // alone (a typing notification) is fire and forget.
        let has_text = !tags_only(&req.content);
        let event = direct(
            id,
            ts,
            (&me.name, me.flags()),
            &to.name,
            req.content,
            &req.options,
        );
        let took = to.push(&event, None);
        if took == 0 && has_text {
            return undeliverable(to.name.as_str()).into();
        }
        to_other_nodes(ctx, to.name.as_str(), &event);
        echo(ctx, me, &to.name, &event);
        let status = DeliveryStatus::Delivered;
        return sent(id, ts, status, u32::from(took > 0), away_of(&to));
    }
    let Some(found) = ctx.state.delivery().locate(&req.dst) else {
        return CmdError::new(
            ErrorCode::NoSuchUser,
            format!("{} is not online ({unkept})", &*req.dst),
        )
        .into();
    };
    let Ok(to) = UserName::parse(&found.name) else {
        return no_such_user(&found.name).into();
    };
    let event = direct(
        id,
        ts,
        (&me.name, me.flags()),
        &to,
        req.content,
        &req.options,
    );
    let delivery = Arc::clone(ctx.state.delivery());
    let me = Arc::clone(me);
    let work = async move {
        delivery
            .to_user(&found, &event)
            .await
            .into_result()
            .map(|_| event)
    };
    later(false, work, move |answer, ctx| match answer {
        Ok(event) => {
            echo(ctx, &me, &to, &event);
            sent(id, ts, DeliveryStatus::Delivered, 1, ByteString::new())
        }
        Err(refusal) => refusal.into(),
    })
}

/// The away message of an online recipient (empty: not away).
fn away_of(to: &Peer) -> ByteString {
    to.profile().away
}

/// Shows the sender's other sessions what this one sent (as IRCv3's
/// echo-message does for other devices), here and on other nodes. A
/// message to oneself already reached every session.
fn echo(ctx: &Ctx<'_>, me: &Peer, to: &UserName, event: &Shared) {
    if me.name.key() != to.key() {
        me.push(event, Some(ctx.conn.id));
        to_other_nodes(ctx, me.name.as_str(), event);
    }
}

/// Hands `event` to the sessions an account online here has on other
/// nodes too, if any, in the background: those here took it already.
fn to_other_nodes(ctx: &Ctx<'_>, name: &str, event: &Shared) {
    let delivery = ctx.state.delivery();
    if let Some(found) = delivery.locate(name) {
        tokio::spawn(delivery.to_user(&found, event));
    }
}

/// Hands a stored message to every session of the recipient, here and
/// (an account) on other nodes. If the recipient has gone (or fell too
/// far behind) since the send, an account gets it in its offline queue
/// instead.
fn deliver(
    ctx: &mut Ctx<'_>,
    me: &Arc<Peer>,
    to: &Arc<Peer>,
    id: MessageId,
    ts: Timestamp,
    text: ByteString,
    options: &SendOptions,
) -> Outcome {
    // Whoever holds the name now: the recipient may have reconnected.
    let current = ctx.state.users.get(to.name.as_str());
    let event = direct(id, ts, (&me.name, me.flags()), &to.name, text, options);
    if let Some(peer) = &current
        && peer.push(&event, None) > 0
    {
        to_other_nodes(ctx, to.name.as_str(), &event);
        echo(ctx, me, &to.name, &event);
        return sent(id, ts, DeliveryStatus::Delivered, 1, away_of(peer));
    }
    let name = to.name.clone();
    let me = Arc::clone(me);
    // None here took it; its sessions on other nodes may.
    if let Some(found) = ctx.state.delivery().locate(name.as_str()) {
        let handed = ctx.state.delivery().to_user(&found, &event);
        return later(false, handed, move |handed, ctx| {
            if handed == Handed::Delivered {
                echo(ctx, &me, &name, &event);
                return sent(id, ts, DeliveryStatus::Delivered, 1, ByteString::new());
            }
            enqueue(ctx, me, name, (id, ts), event, Some(found))
        });
    }
    let account = current.as_ref().map_or(to.account, |peer| peer.account);
    if !account {
        return withdrawn(ctx, id, undeliverable(to.name.as_str()));
    }
    enqueue(ctx, me, name, (id, ts), event, None)
}

/// Puts a stored message in the offline queue of the account `to`, which
/// none of its sessions took; tells its node(s) elsewhere to fetch it.
fn enqueue(
    ctx: &mut Ctx<'_>,
    me: Arc<Peer>,
    to: UserName,
    (id, ts): (MessageId, Timestamp),
    event: Shared,
    elsewhere: Option<Elsewhere>,
) -> Outcome {
    let enqueue = ctx.state.store.enqueue(to.key(), id);
    later(false, enqueue, move |written, ctx| match written {
        Ok(()) => {
            echo(ctx, &me, &to, &event);
            if let Some(elsewhere) = &elsewhere {
                // Still online there, maybe, on a node that was too slow.
                ctx.state.delivery().queued(elsewhere);
            }
            queued(ctx, &to, id, ts)
        }
        Err(error) => not_stored(error),
    })
}

/// A recipient elsewhere (on another node): store the message, then hand
/// it to the delivery layer. If it cannot be delivered (the recipient left
/// or fell behind, or its node did not answer in time), an account gets
/// it in its offline queue, as for a local recipient, and a guest's is
/// deleted again.
fn send_remote(ctx: &mut Ctx<'_>, me: Arc<Peer>, found: Elsewhere, req: Transfer) -> Outcome {
    let delivery = Arc::clone(ctx.state.delivery());
    if let Err(error) = delivery.reachable() {
        return CmdError::from(error).into();
    }
    let Ok(to) = UserName::parse(&found.name) else {
        return no_such_user(&found.name).into();
    };
    let account = found.account;
    // Kept to relay it unstored if the database is away.
    let between_guests = (!account && !me.account).then(|| req.clone());
    let (text, options) = (req.content, req.options);
    let elsewhere = found.clone();
    let store = Arc::clone(&ctx.state.store);
    let ts = ctx.now.wall;
    let from = me.name.clone();
    let flags = me.flags();
    let work = async move {
        let id = store
            .append(NewMessage {
                ts,
                from: from.clone(),
                to: Some(to.clone()),
                text: text.to_string(),
                notice: options.notice,
                queue_for: None,
            })
            .await?;
        let event = direct(id, ts, (&from, flags), &to, text, &options);
        let answer = delivery.to_user(&found, &event).await;
        Ok::<_, StoreError>((id, to, event, answer))
    };
    later(false, work, move |done, ctx| {
        let (id, to, event, answer) = match (done, between_guests) {
            (Ok(done), _) => done,
            (Err(StoreError::Failed(_)), Some(req)) => return relay(ctx, &me, req, ts, NOT_STORED),
            (Err(error), _) => return not_stored(error),
        };
        let refusal = match answer.into_result() {
            Ok(_) => {
                echo(ctx, &me, &to, &event);
                return sent(id, ts, DeliveryStatus::Delivered, 1, ByteString::new());
            }
            Err(refusal) => refusal,
        };
        if !account {
            return withdrawn(ctx, id, refusal);
        }
        enqueue(ctx, me, to, (id, ts), event, Some(elsewhere))
    })
}

/// A stored message that reached no one and never will (its recipient, a
/// guest, is gone): deleted again, so that history does not show it as
/// sent, and the sender gets `refusal`. If the store cannot delete it now,
/// it stays in history (and the error is logged); the refusal holds.
fn withdrawn(ctx: &mut Ctx<'_>, id: MessageId, refusal: CmdError) -> Outcome {
    let erase = ctx.state.store.redact(id);
    later(false, erase, move |erased, _| {
        if let Err(error) = erased {
            tracing::error!(%error, id = id.0, "a refused message stays in history");
        }
        refusal.into()
    })
}

/// The answer for a message in an offline queue; wakes the recipient's
/// sessions if it logged in meanwhile, so the message is not left waiting
/// for the next login.
fn queued(ctx: &mut Ctx<'_>, to: &UserName, id: MessageId, ts: Timestamp) -> Outcome {
    if let Some(peer) = ctx.state.users.get(to.as_str()) {
        peer.wake_inboxes();
    }
    sent(id, ts, DeliveryStatus::Queued, 0, ByteString::new())
}

fn sent(
    id: MessageId,
    ts: Timestamp,
    status: DeliveryStatus,
    recipients: u32,
    away: ByteString,
) -> Outcome {
    Ok(ServerFrame::Sent(Sent {
        id,
        ts,
        status,
        recipients,
        away,
    }))
    .into()
}

/// A send whose message could not be stored: nothing was delivered.
pub fn not_stored(error: StoreError) -> Outcome {
    CmdError::new(
        ErrorCode::StorageFailure,
        format!("the message could not be stored and was not sent: {error}"),
    )
    .into()
}

/// A stored message the rest of the server could not be given: only
/// `reached` recipients here (`whom`) got it.
pub fn reached_only_here(reached: u32, whom: &str, error: Unavailable) -> Outcome {
    CmdError::new(
        ErrorCode::ClusterUnavailable,
        format!(
            "stored, and delivered only to the {reached} other {whom}: {}",
            CmdError::from(error).message
        ),
    )
    .into()
}
