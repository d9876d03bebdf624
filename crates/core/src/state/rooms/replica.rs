//! One state per room across nodes: every change a node makes to a room
//! is also handed to the delivery layer as a [`RoomChange`], which the
//! other nodes apply to their copy with [`Rooms::apply`]. A single node
//! has no replica and pays nothing for this.
//!
//! How copies agree: each element of a room's state (its settings, each
//! member, each room mute, each mask, each invitation) is a
//! last-writer-wins register. A change carries a [`Stamp`] (when, and on
//! which node); a copy takes a change only if its stamp is not older than
//! the one it holds for that element, and a node stamps its own change
//! later than anything it has seen for the element. So changes made one
//! after the other keep their order, and two made at once on two nodes
//! end, on every node, with the one of the greater (time, node). What the
//! stores are not told of is replicated as well: a guest's membership
//! (with the node the guest is on) and invitations.

use std::sync::Arc;

use chinwag_proto::room::MaskList;
use chinwag_proto::server::{MuteState, Timestamp};
use chinwag_proto::{NameKey, RoomName, UserName};

use super::{Member, Room, RoomState, Rooms};
use crate::delivery::Delivery;
use crate::store::{MaskRecord, MemberRecord, RoomMeta, RoomWrite};

/// When a change was made (milliseconds) and on which node; the greater
/// wins.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub ts: u64,
    pub node: String,
}

/// One change to a room, for the other nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomChange {
    /// The room's name as spelled.
    pub room: String,
    pub stamp: Stamp,
    pub change: Change,
}

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The room was created with these settings and its owner: one
    /// change, so no node ever sees it without an owner.
    Created {
        meta: RoomMeta,
        owner: Membership,
    },
    /// Its settings (topic, mode, password, limit).
    Settings(RoomMeta),
    /// Someone joined, or a member's role or voice changed.
    Member(Membership),
    /// A member left (or was put out).
    Left(NameKey),
    /// A room mute; `NotMuted` lifts it.
    Mute(NameKey, MuteState),
    Mask(MaskRecord),
    Unmask(MaskList, String),
    Invited(NameKey),
}

/// A member as the other nodes learn it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub record: MemberRecord,
    /// An account's (stored, kept while offline), else a guest's.
    pub account: bool,
    /// A guest's node: its membership ends with that node.
    pub home: Option<String>,
}

/// The element of a room's state a change is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Slot {
    Settings,
    Member(NameKey),
    Mute(NameKey),
    Mask(MaskList, String),
    Invite(NameKey),
}

impl Change {
    fn slot(&self) -> Option<Slot> {
        Some(match self {
            Change::Created { .. } | Change::Settings(_) => Slot::Settings,
            Change::Member(m) => Slot::Member(NameKey::fold(&m.record.name)?),
            Change::Left(key) => Slot::Member(*key),
            Change::Mute(key, _) => Slot::Mute(*key),
            Change::Mask(m) => Slot::Mask(m.list, m.mask.clone()),
            Change::Unmask(list, mask) => Slot::Mask(*list, mask.clone()),
            Change::Invited(key) => Slot::Invite(*key),
        })
    }

    /// What the store is told of is also what the other nodes are told.
    fn of_write(write: RoomWrite) -> Option<Change> {
        Some(match write {
            RoomWrite::Meta(meta) => Change::Settings(meta),
            RoomWrite::Member(_, record) => Change::Member(Membership {
                record,
                account: true,
                home: None,
            }),
            RoomWrite::RemoveMember(_, key) => Change::Left(key),
            RoomWrite::Mute(_, key, until) => Change::Mute(key, until),
            RoomWrite::Mask(_, mask) => Change::Mask(mask),
            RoomWrite::Unmask(_, list, mask) => Change::Unmask(list, mask),
            // A room's deletion follows from its last member leaving.
            RoomWrite::Delete(_) => return None,
        })
    }
}

/// Where a node's room changes go: the other nodes.
pub(super) struct Replica {
    pub(super) delivery: Arc<dyn Delivery>,
    /// This node's id, in its stamps.
    pub(super) node: String,
}

/// Stamps older than this are forgotten once their element is gone: a
/// change from another node arrives within a message's flight time.
const FORGET_AFTER_MS: u64 = 60_000;

impl RoomState {
    /// A stamp for a change made here: later than what this copy has
    /// seen for the element.
    fn next_stamp(&mut self, slot: Slot, node: &str) -> Stamp {
        let now = Timestamp::now().0;
        let after = self.stamps.get(&slot).map_or(0, |s| s.ts + 1);
        let stamp = Stamp {
            ts: now.max(after),
            node: node.to_owned(),
        };
        self.stamps.insert(slot, stamp.clone());
        self.forget_old_stamps(now);
        stamp
    }

    /// Whether a change stamped `stamp` for `slot` is not older than what
    /// this copy holds; if so, it is recorded.
    fn takes(&mut self, slot: Slot, stamp: &Stamp) -> bool {
        if self.stamps.get(&slot).is_some_and(|held| held > stamp) {
            return false;
        }
        self.stamps.insert(slot, stamp.clone());
        self.forget_old_stamps(Timestamp::now().0);
        true
    }

    /// Drops old stamps of elements that are gone, when there are many.
    fn forget_old_stamps(&mut self, now: u64) {
        let live = self.members.len() + self.mutes.len() + self.masks.len() + self.invited.len();
        if self.stamps.len() <= 2 * live + 64 {
            return;
        }
        let (members, mutes, invited) = (&self.members, &self.mutes, &self.invited);
        let masks = &self.masks;
        self.stamps.retain(|slot, stamp| {
            stamp.ts + FORGET_AFTER_MS > now
                || match slot {
                    Slot::Settings => true,
                    Slot::Member(key) => members.contains_key(key),
                    Slot::Mute(key) => mutes.contains_key(key),
                    Slot::Invite(key) => invited.contains(key),
                    Slot::Mask(list, mask) => {
                        masks.iter().any(|m| m.list == *list && m.mask == *mask)
                    }
                }
        });
    }

    pub(super) fn set_settings(&mut self, meta: RoomMeta) {
        self.topic = meta.topic;
        self.topic_by = meta.topic_by;
        self.topic_ts = meta.topic_ts;
        self.mode = chinwag_proto::room::RoomMode::from_bits(meta.mode)
            .unwrap_or(chinwag_proto::room::RoomMode::NEW);
        self.password = meta.password;
        self.limit = meta.limit;
        self.created = meta.created;
    }

    /// A member as learnt from another node: its connection, if it is
    /// online here, stays.
    fn set_member(&mut self, membership: Membership) -> Option<NameKey> {
        let name = UserName::parse(&membership.record.name).ok()?;
        let key = name.key();
        let peer = self.members.get(&key).and_then(|m| m.peer.clone());
        self.next_since = self.next_since.max(membership.record.since + 1);
        self.invited.remove(&key);
        self.members.insert(
            key,
            Member {
                name,
                role: membership.record.role,
                since: membership.record.since,
                peer,
                account: membership.account,
                voiced: membership.record.voiced,
                home: membership.home,
            },
        );
        self.recipients = None;
        Some(key)
    }

    /// How another node learns `user`'s membership.
    fn membership(&self, user: &NameKey, node: &str) -> Option<Membership> {
        let member = self.members.get(user)?;
        Some(Membership {
            record: member.record(),
            account: member.account,
            home: if member.account {
                None
            } else {
                Some(member.home.clone().unwrap_or_else(|| node.to_owned()))
            },
        })
    }
}

impl Rooms {
    /// Sends this node's room changes to the other nodes from now on (a
    /// node joining a cluster), stamped with `node`.
    pub fn replicate_through(&self, delivery: Arc<dyn Delivery>, node: String) {
        if self.replica.set(Replica { delivery, node }).is_err() {
            tracing::error!("rooms replicated twice; keeping the first");
        }
    }

    /// Whether room changes go to other nodes too.
    pub fn replicated(&self) -> bool {
        self.replica.get().is_some()
    }

    /// Hands a change made here, under the room's lock, to the other
    /// nodes. Sent in the order made: the delivery layer keeps it.
    pub(super) fn share(&self, room: &Room, state: &mut RoomState, change: Change) {
        let Some(replica) = self.replica.get() else {
            return;
        };
        let Some(slot) = change.slot() else { return };
        let stamp = state.next_stamp(slot, &replica.node);
        if let Change::Created { owner, .. } = &change
            && let Some(key) = NameKey::fold(&owner.record.name)
        {
            state.stamps.insert(Slot::Member(key), stamp.clone());
        }
        replica.delivery.room_changed(RoomChange {
            room: room.name.as_str().to_owned(),
            stamp,
            change,
        });
    }

    /// Writes a change through to the store and hands it to the other
    /// nodes. Called under the room's lock (see [`Rooms::store`]).
    pub fn save(&self, room: &Room, state: &mut RoomState, write: RoomWrite) {
        if self.replicated()
            && let Some(change) = Change::of_write(write.clone())
        {
            self.share(room, state, change);
        }
        self.store(write);
    }

    /// A member joined or its role or voice changed: an account's
    /// membership is stored, and every membership is told to the other
    /// nodes.
    pub fn save_member(&self, room: &Room, state: &mut RoomState, user: &NameKey) {
        let Some(member) = state.members.get(user) else {
            return;
        };
        if member.account {
            let record = member.record();
            self.save(room, state, RoomWrite::Member(room.name.key(), record));
        } else if let Some(replica) = self.replica.get()
            && let Some(membership) = state.membership(user, &replica.node)
        {
            self.share(room, state, Change::Member(membership));
        }
    }

    /// Records an invitation and tells the other nodes; `false` if too
    /// many are pending.
    pub fn invite(&self, room: &Room, state: &mut RoomState, user: NameKey) -> bool {
        if !state.invite(user) {
            return false;
        }
        self.share(room, state, Change::Invited(user));
        true
    }

    /// The room was created here (under its lock): its settings and its
    /// owner are stored and told to the other nodes as one change.
    pub(super) fn created(&self, room: &Room, state: &mut RoomState, owner: &NameKey) {
        let meta = state.meta(&room.name);
        if self.replicated() {
            // A room of the same name that only guests were in may have
            // left its settings, masks and mutes in a shared store.
            self.store(RoomWrite::Delete(room.name.key()));
        }
        self.store(RoomWrite::Meta(meta.clone()));
        let Some(member) = state.members.get(owner) else {
            return;
        };
        if member.account {
            self.store(RoomWrite::Member(room.name.key(), member.record()));
        }
        if let Some(replica) = self.replica.get()
            && let Some(membership) = state.membership(owner, &replica.node)
        {
            self.share(
                room,
                state,
                Change::Created {
                    meta,
                    owner: membership,
                },
            );
        }
    }

    /// The room's last member left here: its claim on the name can go.
    pub(super) fn emptied(&self, room: &Room) {
        if let Some(replica) = self.replica.get() {
            replica.delivery.release_room(room.name.key());
        }
    }

    /// Applies a change another node made. Nothing is stored: that node
    /// stored it. Returns whether the change was taken.
    pub fn apply(&self, change: RoomChange) -> bool {
        let Ok(name) = RoomName::parse(&change.room) else {
            return false;
        };
        let Some(slot) = change.change.slot() else {
            return false;
        };
        let key = name.key();
        let creates = matches!(change.change, Change::Created { .. } | Change::Member(_));
        loop {
            let existing = self.registry.get(&key).map(|r| Arc::clone(&r));
            let Some(room) = existing else {
                if !creates {
                    return false;
                }
                // A membership brings a room this node does not know
                // (created elsewhere, or known here only by its guests). It
                // is filled before it is registered: a local join must
                // never find it empty and take it for a room to create.
                let room = Arc::new(Room::new(name.clone()));
                {
                    let mut state = room.write();
                    state.takes(slot.clone(), &change.stamp);
                    self.apply_to(&room, &mut state, change.change.clone(), &change.stamp);
                }
                if self.register(key, room) {
                    return true;
                }
                // Someone registered it meanwhile: apply to that one.
                continue;
            };
            let mut state = room.write();
            if state.deleted {
                continue;
            }
            let taken = state.takes(slot.clone(), &change.stamp);
            if taken {
                self.apply_to(&room, &mut state, change.change.clone(), &change.stamp);
            } else {
                self.store_winner(&room, &state, &slot);
            }
            if state.is_empty() {
                self.delete(&room, &mut state);
            }
            return taken;
        }
    }

    /// A change from another node lost to one made here (two changes of
    /// one element at once): both nodes wrote theirs to the store, in an
    /// order nobody knows, so this node writes the winner again. The
    /// store then agrees with every copy.
    fn store_winner(&self, room: &Room, state: &RoomState, slot: &Slot) {
        let Some(replica) = self.replica.get() else {
            return;
        };
        if state
            .stamps
            .get(slot)
            .is_none_or(|s| s.node != replica.node)
        {
            return;
        }
        let key = room.name.key();
        let write = match slot {
            Slot::Settings => RoomWrite::Meta(state.meta(&room.name)),
            Slot::Member(user) => match state.members.get(user) {
                Some(member) if member.account => RoomWrite::Member(key, member.record()),
                Some(_) => return,
                None => RoomWrite::RemoveMember(key, *user),
            },
            Slot::Mute(user) => RoomWrite::Mute(
                key,
                *user,
                state.mutes.get(user).copied().unwrap_or_default(),
            ),
            Slot::Mask(list, mask) => match state
                .masks
                .iter()
                .find(|m| m.list == *list && m.mask == *mask)
            {
                Some(record) => RoomWrite::Mask(key, record.clone()),
                None => RoomWrite::Unmask(key, *list, mask.clone()),
            },
            Slot::Invite(_) => return,
        };
        self.store(write);
    }

    fn apply_to(&self, room: &Room, state: &mut RoomState, change: Change, stamp: &Stamp) {
        let room_key = room.name.key();
        match change {
            Change::Created { meta, owner } => {
                state.set_settings(meta);
                if let Some(key) = NameKey::fold(&owner.record.name)
                    && state.takes(Slot::Member(key), stamp)
                    && let Some(key) = state.set_member(self.here(owner))
                {
                    self.joined.entry(key).or_default().insert(room_key);
                }
            }
            Change::Settings(meta) => state.set_settings(meta),
            Change::Member(membership) => {
                let membership = self.here(membership);
                // A guest of this node that is not in the room here has
                // left it: a late word about it brings back no one.
                let gone = !membership.account
                    && membership.home.is_none()
                    && NameKey::fold(&membership.record.name)
                        .is_some_and(|key| !state.members.contains_key(&key));
                if !gone && let Some(key) = state.set_member(membership) {
                    self.joined.entry(key).or_default().insert(room_key);
                }
            }
            Change::Left(user) => {
                if state.members.remove(&user).is_some() {
                    state.recipients = None;
                    self.unjoin(&user, room);
                }
            }
            Change::Mute(user, MuteState::NotMuted) => {
                state.mutes.remove(&user);
            }
            Change::Mute(user, until) => {
                state.mutes.insert(user, until);
            }
            Change::Mask(mask) => {
                if state.add_mask(mask).is_err() {
                    tracing::warn!(room = %room.name, "a mask list from another node is over the limit here");
                }
            }
            Change::Unmask(list, mask) => {
                state.remove_mask(list, &mask);
            }
            Change::Invited(user) => {
                state.invite(user);
            }
        }
    }

    /// A membership as this node keeps it: a guest of this node has no
    /// other home.
    fn here(&self, mut membership: Membership) -> Membership {
        if let Some(replica) = self.replica.get()
            && membership.home.as_deref() == Some(replica.node.as_str())
        {
            membership.home = None;
        }
        membership
    }

    /// The guests of `node` leave every room here, without a word to the
    /// other nodes (each drops them itself): that node started afresh, so
    /// their connections are gone. Returns, for each room, who left and
    /// the members online here to tell.
    pub fn drop_guests_of(&self, node: &str) -> Vec<(Arc<Room>, UserName, super::Recipients)> {
        let mut dropped = Vec::new();
        for room in self.all() {
            let mut state = room.write();
            let gone: Vec<NameKey> = state
                .members
                .iter()
                .filter(|(_, m)| m.home.as_deref() == Some(node))
                .map(|(key, _)| *key)
                .collect();
            for key in gone {
                if let Some(member) = state.members.remove(&key) {
                    state.recipients = None;
                    self.unjoin(&key, &room);
                    dropped.push((Arc::clone(&room), member.name, state.recipients()));
                }
            }
            if state.is_empty() {
                self.delete(&room, &mut state);
            }
        }
        dropped
    }

    /// Tells the other nodes again of this node's share of the rooms
    /// (after this node was cut off: they dropped its guests, or took
    /// them for gone with this node): each guest's membership stamped
    /// now, then the rest of the room as this node has it.
    pub fn reannounce_guests(&self) {
        let Some(replica) = self.replica.get() else {
            return;
        };
        for room in self.all() {
            let mut state = room.write();
            let guests = local_guests(&state);
            for key in &guests {
                if let Some(guest) = state.membership(key, &replica.node) {
                    self.share(&room, &mut state, Change::Member(guest));
                }
            }
            if guests.is_empty() && state.invited.is_empty() {
                continue;
            }
            for change in room_state(&room, &state) {
                replica.delivery.room_changed(change);
            }
        }
    }

    /// What another node that starts needs from this one: every room that
    /// has guests here or invitations, with its settings, masks, mutes,
    /// invitations and this node's guests (the accounts' memberships it
    /// reads from the shared store).
    pub fn snapshot(&self) -> Vec<RoomChange> {
        let Some(replica) = self.replica.get() else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        for room in self.all() {
            let state = room.read();
            let guests = local_guests(&state);
            if guests.is_empty() && state.invited.is_empty() {
                continue;
            }
            for key in &guests {
                if let Some(membership) = state.membership(key, &replica.node) {
                    changes.push(RoomChange {
                        room: room.name.as_str().to_owned(),
                        stamp: state
                            .stamps
                            .get(&Slot::Member(*key))
                            .cloned()
                            .unwrap_or_default(),
                        change: Change::Member(membership),
                    });
                }
            }
            changes.extend(room_state(&room, &state));
        }
        changes
    }
}

/// The guests of this node in a room.
fn local_guests(state: &RoomState) -> Vec<NameKey> {
    state
        .members
        .iter()
        .filter(|(_, m)| !m.account && m.home.is_none())
        .map(|(key, _)| *key)
        .collect()
}

/// A room's settings, masks, mutes and invitations, each with the stamp
/// this node holds for it (a node that has a newer one keeps its own).
fn room_state(room: &Room, state: &RoomState) -> Vec<RoomChange> {
    let stamped = |slot: Slot, change: Change| RoomChange {
        room: room.name.as_str().to_owned(),
        stamp: state.stamps.get(&slot).cloned().unwrap_or_default(),
        change,
    };
    let mut changes = vec![stamped(
        Slot::Settings,
        Change::Settings(state.meta(&room.name)),
    )];
    for mask in &state.masks {
        let slot = Slot::Mask(mask.list, mask.mask.clone());
        changes.push(stamped(slot, Change::Mask(mask.clone())));
    }
    for (key, until) in &state.mutes {
        changes.push(stamped(Slot::Mute(*key), Change::Mute(*key, *until)));
    }
    for key in &state.invited {
        changes.push(stamped(Slot::Invite(*key), Change::Invited(*key)));
    }
    changes
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chinwag_proto::RoomKey;
    use chinwag_proto::room::RoomRole;
    use chinwag_proto::server::UserInfo;
    use futures::future::BoxFuture;

    use super::*;
    use crate::delivery::{
        ClaimError, Delivery, Departure, Elsewhere, Handed, Local, NameClaim, Order, Unavailable,
    };
    use crate::event::Shared;
    use crate::outbox::Outbox;
    use crate::state::rooms::Joined;
    use crate::state::{ConnId, Peer};
    use crate::store::{BanTarget, RoomWrite};

    /// A node's delivery that keeps the room changes it is handed, for
    /// the test to carry to the other node; nobody is elsewhere.
    struct Collector {
        node: String,
        sent: Mutex<Vec<RoomChange>>,
    }

    impl Collector {
        fn take(&self) -> Vec<RoomChange> {
            std::mem::take(&mut self.sent.lock().unwrap())
        }
    }

    impl Delivery for Collector {
        fn locate(&self, name: &str) -> Option<Elsewhere> {
            Local.locate(name)
        }
        fn reachable(&self) -> Result<(), Unavailable> {
            Ok(())
        }
        fn remote_users(&self, now: Timestamp, for_admin: bool) -> Vec<UserInfo> {
            Local.remote_users(now, for_admin)
        }
        fn remote_count(&self) -> usize {
            0
        }
        fn matching(&self, target: &BanTarget) -> u32 {
            Local.matching(target)
        }
        fn claims_names(&self) -> bool {
            true
        }
        fn claim(&self, claim: NameClaim) -> BoxFuture<'static, Result<bool, ClaimError>> {
            Local.claim(claim)
        }
        fn release(&self, _name: NameKey, _conn: ConnId, _departure: Option<Departure>) {}
        fn republish(&self, _peer: &Arc<Peer>) {}
        fn to_user(&self, to: &Elsewhere, event: &Shared) -> BoxFuture<'static, Handed> {
            Local.to_user(to, event)
        }
        fn to_room(&self, _room: &RoomName, _event: &Shared) -> Result<(), Unavailable> {
            Ok(())
        }
        fn to_all(&self, _event: &Shared) -> Result<u32, Unavailable> {
            Ok(0)
        }
        fn presence(&self, _event: &Shared, _subject: &NameKey) {}
        fn queued(&self, _to: &Elsewhere) {}
        fn order_all(&self, _order: Order) -> Result<(), Unavailable> {
            Ok(())
        }
        fn order(&self, to: &Elsewhere, order: Order) -> BoxFuture<'static, Handed> {
            Local.order(to, order)
        }
        fn leave(&self) -> BoxFuture<'static, ()> {
            Local.leave()
        }
        fn node(&self) -> &str {
            &self.node
        }
        fn room_changed(&self, change: RoomChange) {
            self.sent.lock().unwrap().push(change);
        }
        fn claim_room(&self, room: RoomKey) -> BoxFuture<'static, Result<bool, Unavailable>> {
            Local.claim_room(room)
        }
        fn release_room(&self, _room: RoomKey) {}
        fn room_snapshot(&self) -> BoxFuture<'static, Vec<RoomChange>> {
            Local.room_snapshot()
        }
    }

    /// A node: its rooms and what it sent.
    fn node(id: &str) -> (Rooms, Arc<Collector>) {
        let rooms = Rooms::new(10, 10);
        let collector = Arc::new(Collector {
            node: id.to_owned(),
            sent: Mutex::new(Vec::new()),
        });
        rooms.replicate_through(Arc::clone(&collector) as Arc<dyn Delivery>, id.to_owned());
        (rooms, collector)
    }

    fn peer(conn: u64, name: &str) -> Arc<Peer> {
        let link = crate::state::Link::new(
            ConnId(conn),
            Arc::new(Outbox::new(16, 4096)),
            "127.0.0.1:1".parse().unwrap(),
            String::new(),
            Timestamp(0),
        );
        Arc::new(Peer::new(UserName::parse(name).unwrap(), Arc::new(link)))
    }

    fn carry(changes: Vec<RoomChange>, to: &Rooms) {
        for change in changes {
            to.apply(change);
        }
    }

    fn set_topic(rooms: &Rooms, topic: &str) {
        let room = rooms.get("#r").unwrap();
        let mut state = room.write();
        state.topic = topic.to_owned();
        let meta = state.meta(&room.name);
        rooms.save(&room, &mut state, RoomWrite::Meta(meta));
    }

    fn members(rooms: &Rooms) -> Vec<(String, RoomRole, Option<String>)> {
        let room = rooms.get("#r").unwrap();
        let state = room.read();
        let mut list: Vec<_> = state
            .members
            .values()
            .map(|m| (m.name.to_string(), m.role, m.home.clone()))
            .collect();
        list.sort();
        list
    }

    #[test]
    fn two_copies_of_a_room_agree_whatever_the_order_changes_cross_in() {
        let (a, a_sent) = node("a");
        let (b, b_sent) = node("b");
        let name = RoomName::parse("#r").unwrap();
        let (alice, bob) = (peer(1, "alice"), peer(2, "bob"));
        a.join(&name, &alice, "", false, Timestamp(0)).unwrap();
        carry(a_sent.take(), &b);
        let (_, how) = b.join(&name, &bob, "", false, Timestamp(0)).unwrap();
        assert_eq!(how, Joined::Joined, "b knows the room a created");
        carry(b_sent.take(), &a);
        let both = vec![
            ("alice".to_owned(), RoomRole::Owner, Some("a".to_owned())),
            ("bob".to_owned(), RoomRole::Member, None),
        ];
        assert_eq!(members(&b), both);
        assert_eq!(
            members(&a),
            vec![
                ("alice".to_owned(), RoomRole::Owner, None),
                ("bob".to_owned(), RoomRole::Member, Some("b".to_owned())),
            ]
        );
        assert_eq!(a.rooms_of(&bob.name.key()).len(), 1, "a counts bob's room");

        // Two topics at once: each copy ends with the same one, the later
        // stamp's (b's, as "b" > "a" at the same millisecond or later).
        set_topic(&a, "from a");
        set_topic(&b, "from b");
        let (from_a, from_b) = (a_sent.take(), b_sent.take());
        let winner = if from_a[0].stamp > from_b[0].stamp {
            "from a"
        } else {
            "from b"
        };
        carry(from_a, &b);
        carry(from_b, &a);
        assert_eq!(a.get("#r").unwrap().read().topic, winner);
        assert_eq!(b.get("#r").unwrap().read().topic, winner);

        // A change made after seeing another wins over it, even if the
        // clock says otherwise: the stamp is later than the one seen.
        set_topic(&a, "after");
        carry(a_sent.take(), &b);
        assert_eq!(b.get("#r").unwrap().read().topic, "after");

        // The owner leaves on a: bob owns the room on both copies, and a
        // late, older change about alice does not bring her back.
        let stale = {
            let room = a.get("#r").unwrap();
            let mut state = room.write();
            state.set_role(&alice.name.key(), RoomRole::Owner);
            a.save_member(&room, &mut state, &alice.name.key());
            a_sent.take()
        };
        let room = a.get("#r").unwrap();
        a.leave(&room, &alice.name.key(), None).unwrap();
        let left = a_sent.take();
        carry(left, &b);
        carry(stale, &b);
        let bob_owns = vec![("bob".to_owned(), RoomRole::Owner, None)];
        assert_eq!(members(&b), bob_owns);
        assert_eq!(
            members(&a),
            vec![("bob".to_owned(), RoomRole::Owner, Some("b".to_owned()))]
        );

        // Bob leaves on b: the room is gone from both copies.
        let room = b.get("#r").unwrap();
        b.leave(&room, &bob.name.key(), None).unwrap();
        carry(b_sent.take(), &a);
        assert!(a.get("#r").is_none() && b.get("#r").is_none());
        assert!(a.rooms_of(&bob.name.key()).is_empty());
    }

    #[tokio::test]
    async fn the_store_ends_with_the_change_that_won() {
        use crate::store::{Durability, SqliteStore, Store};
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(dir.path(), Durability::Normal).unwrap());
        let (a, a_sent) = {
            let rooms = Rooms::new(10, 10).with_store(Arc::clone(&store));
            let collector = Arc::new(Collector {
                node: "a".into(),
                sent: Mutex::new(Vec::new()),
            });
            rooms.replicate_through(Arc::clone(&collector) as Arc<dyn Delivery>, "a".into());
            (rooms, collector)
        };
        let name = RoomName::parse("#r").unwrap();
        a.join(&name, &peer(1, "alice"), "", false, Timestamp(0))
            .unwrap();
        set_topic(&a, "from a");
        let won = a_sent.take().pop().unwrap();
        // Another node set a topic at the same moment, with an older stamp,
        // and its write reached the store last.
        let mut meta = a.get("#r").unwrap().read().meta(&name);
        meta.topic = "from b".into();
        store
            .write_room(RoomWrite::Meta(meta.clone()))
            .await
            .unwrap();
        let lost = RoomChange {
            room: "#r".into(),
            stamp: Stamp {
                ts: won.stamp.ts - 1,
                node: "b".into(),
            },
            change: Change::Settings(meta),
        };
        assert!(!a.apply(lost), "the older change loses");
        assert_eq!(a.get("#r").unwrap().read().topic, "from a");
        // a wrote its topic again; a later write queues behind it.
        store
            .write_room(RoomWrite::Mute(
                name.key(),
                NameKey::fold("x").unwrap(),
                MuteState::NotMuted,
            ))
            .await
            .unwrap();
        let stored = store.rooms().await.unwrap();
        assert_eq!(stored[0].meta.topic, "from a");
    }

    #[test]
    fn a_nodes_guests_go_when_it_starts_afresh_and_come_with_its_snapshot() {
        let (a, a_sent) = node("a");
        let (b, _b_sent) = node("b");
        let name = RoomName::parse("#r").unwrap();
        a.join(&name, &peer(1, "gus"), "", false, Timestamp(0))
            .unwrap();
        {
            let room = a.get("#r").unwrap();
            let mut state = room.write();
            assert!(a.invite(&room, &mut state, NameKey::fold("ivy").unwrap()));
        }
        a_sent.take();
        // b starts: it learns the room, gus and the invitation from a.
        carry(a.snapshot(), &b);
        assert_eq!(
            members(&b),
            vec![("gus".to_owned(), RoomRole::Owner, Some("a".to_owned()))]
        );
        assert!(
            b.get("#r")
                .unwrap()
                .read()
                .is_invited(&NameKey::fold("ivy").unwrap())
        );
        // a starts afresh: b drops its old guests, and the room with them.
        let dropped = b.drop_guests_of("a");
        assert_eq!(dropped.len(), 1);
        assert!(b.get("#r").is_none());
    }
}
