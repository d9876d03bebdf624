//! One state per room across the cluster: three real nodes (see
//! `common::trio`) and clients on each. Whatever changes a room on one node
//! (joins, leaves, topic, mode, roles, mutes, invitations, kicks, a
//! guest's rename) is what
//! every node answers; a room created on several nodes at once has one
//! owner; the guests of a node that dies or restarts leave its rooms
//! everywhere. Every wait is a polling deadline.

mod common;

use std::ops::Deref;

use chinwag_client::{Client, ClientError, Event, Events, HistoryQuery};
use chinwag_proto::ErrorCode;
use chinwag_proto::request::{Request, Target};
use chinwag_proto::room::{MemberInfo, RoomMode, RoomRole};
use chinwag_proto::server::{MuteState, NoticeKind};
use common::cluster::eventually;
use common::trio::{Trio, code, connect, user};
use common::{PATIENCE, wait_for};

/// A member as MEMBERS shows it: name, role, online.
type Shown = (String, RoomRole, bool);

fn shown(members: Vec<MemberInfo>) -> Vec<Shown> {
    members
        .into_iter()
        .map(|m| (m.name.to_string(), m.role, m.online))
        .collect()
}

fn expect(list: &[(&str, RoomRole, bool)]) -> Vec<Shown> {
    list.iter()
        .map(|(name, role, online)| (name.to_string(), *role, *online))
        .collect()
}

/// Waits until MEMBERS of `room`, asked by each of `viewers`, is `want`.
async fn members_everywhere(viewers: &[&Client], room: &str, want: &[(&str, RoomRole, bool)]) {
    let want = expect(want);
    for (n, viewer) in viewers.iter().enumerate() {
        eventually(
            PATIENCE,
            &format!("{room}'s members seen by viewer {n}"),
            || async {
                let seen = shown(viewer.members(room).await.ok()?);
                (seen == want).then_some(())
            },
        )
        .await;
    }
}

/// An account's session on `node` (the account is created the first time).
async fn account(trio: &Trio, node: usize, name: &str) -> (Client, Events) {
    let (client, events) = connect(trio.addr(node)).await;
    client
        .register(name, Some(&format!("{name}-password-1")))
        .await
        .unwrap();
    (client, events)
}

async fn room_notice(events: &mut Events, kind: NoticeKind) -> chinwag_proto::room::RoomNotice {
    wait_for(events, |e| match e {
        Event::RoomNotice(n) if n.kind == kind => Some(n),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_room_has_one_state_on_every_node() {
    let trio = Trio::start().await;
    // olive creates #hall on n1; bob (an account) joins on n2, gus (a
    // guest) on n3.
    let (olive, mut olive_events) = account(&trio, 0, "olive").await;
    let (bob, _bob_events) = account(&trio, 1, "bob").await;
    let (gus, mut gus_events) = user(trio.addr(2), "gus").await;
    let (watcher, _watcher_events) = user(trio.addr(2), "watcher").await;
    let created = olive.join("#hall", None).await.unwrap();
    assert_eq!(created.role, RoomRole::Owner);
    assert_eq!(
        bob.join("#hall", None).await.unwrap().role,
        RoomRole::Member
    );
    let joined = gus.join("#hall", None).await.unwrap();
    assert_eq!(
        (joined.role, joined.created),
        (RoomRole::Member, created.created),
        "gus joined the room olive created, not a room of his node's own"
    );
    let everyone = [
        ("olive", RoomRole::Owner, true),
        ("bob", RoomRole::Member, true),
        ("gus", RoomRole::Member, true),
    ];
    members_everywhere(&[&olive, &bob, &gus], "#hall", &everyone).await;
    for viewer in [&olive, &bob, &gus, &watcher] {
        let info = viewer.room("#hall").await.unwrap().unwrap();
        assert_eq!(info.members, 3);
        assert_eq!(info.created, created.created, "one room, created once");
    }

    // An operator named on n1 acts as one on n2.
    olive.room_op("#hall", "bob", true).await.unwrap();
    members_everywhere(
        &[&olive, &bob, &gus],
        "#hall",
        &[
            ("olive", RoomRole::Owner, true),
            ("bob", RoomRole::Operator, true),
            ("gus", RoomRole::Member, true),
        ],
    )
    .await;
    // The topic, set on n2 by the new operator, reads the same on every
    // node.
    bob.set_topic("#hall", "welcome").await.unwrap();
    for viewer in [&olive, &gus, &watcher] {
        eventually(PATIENCE, "the topic everywhere", || async {
            let info = viewer.room("#hall").await.unwrap()?;
            (info.topic.deref() == "welcome" && info.topic_by.deref() == "bob").then_some(())
        })
        .await;
    }

    bob.room_mute("#hall", "gus", None, "hush").await.unwrap();
    let muted = room_notice(&mut gus_events, NoticeKind::RoomMuted).await;
    assert_eq!(muted.actor.deref(), "bob", "told on his own node");
    eventually(PATIENCE, "gus muted on his node", || async {
        match gus.say("#hall", "let me talk").await {
            Err(ClientError::Server {
                code: ErrorCode::Muted,
                ..
            }) => Some(()),
            _ => None,
        }
    })
    .await;
    eventually(PATIENCE, "gus muted as seen on n1", || async {
        let members = olive.members("#hall").await.ok()?;
        let gus = members.iter().find(|m| m.name.deref() == "gus")?;
        (gus.muted == MuteState::UntilLifted).then_some(())
    })
    .await;
    olive.room_unmute("#hall", "gus").await.unwrap();
    eventually(PATIENCE, "gus unmuted on his node", || async {
        gus.say("#hall", "thanks").await.ok()
    })
    .await;

    // The mode set on n1 holds on n3: invite-only, and an invitation made
    // on n2 lets a user of n3 in.
    olive
        .room_mode(
            "#hall",
            RoomMode::NEW.with(RoomMode::INVITE_ONLY, true),
            None,
        )
        .await
        .unwrap();
    eventually(PATIENCE, "invite-only on n3", || async {
        let info = watcher.room("#hall").await.ok()??;
        info.mode.invite_only().then_some(())
    })
    .await;
    match watcher.join("#hall", None).await {
        Err(ClientError::Server {
            code: ErrorCode::InviteOnly,
            ..
        }) => {}
        other => panic!("joined an invite-only room uninvited: {other:?}"),
    }
    bob.invite("#hall", "watcher").await.unwrap();
    eventually(PATIENCE, "the invitation on n3", || async {
        watcher.join("#hall", None).await.ok()
    })
    .await;

    // A kick on n1 of a member on n3: out on every node, and told.
    olive.room_kick("#hall", "gus", "enough").await.unwrap();
    let kicked = room_notice(&mut gus_events, NoticeKind::RoomKicked).await;
    assert_eq!(kicked.text.deref(), "enough");
    members_everywhere(
        &[&olive, &bob, &watcher],
        "#hall",
        &[
            ("olive", RoomRole::Owner, true),
            ("bob", RoomRole::Operator, true),
            ("watcher", RoomRole::Member, true),
        ],
    )
    .await;
    assert_eq!(
        code(gus.room_op("#hall", "watcher", true).await.unwrap_err()),
        ErrorCode::NotAMember
    );

    // A guest renamed on n3 is renamed in the room everywhere.
    watcher
        .request(Request::Nick(Target {
            src: "".into(),
            dst: "wanda".into(),
        }))
        .await
        .unwrap();
    members_everywhere(
        &[&olive, &bob, &watcher],
        "#hall",
        &[
            ("olive", RoomRole::Owner, true),
            ("bob", RoomRole::Operator, true),
            ("wanda", RoomRole::Member, true),
        ],
    )
    .await;

    // bob's account is a member wherever it logs in: offline everywhere
    // once it left n2, then online from n3, where it talks and reads the
    // room's history as a member.
    olive.say("#hall", "before bob moves").await.unwrap();
    bob.logout().await.unwrap();
    members_everywhere(
        &[&olive, &watcher],
        "#hall",
        &[
            ("olive", RoomRole::Owner, true),
            ("bob", RoomRole::Operator, false),
            ("wanda", RoomRole::Member, true),
        ],
    )
    .await;
    // The name is free once n2 has let it go.
    let (bob, _bob_events) = eventually(PATIENCE, "bob's name free", || async {
        let (client, events) = connect(trio.addr(2)).await;
        client.register("bob", Some("bob-password-1")).await.ok()?;
        Some((client, events))
    })
    .await;
    let mine = bob.room("#hall").await.unwrap().unwrap();
    assert_eq!((mine.role, mine.members), (RoomRole::Operator, 3));
    members_everywhere(
        &[&olive, &bob, &watcher],
        "#hall",
        &[
            ("olive", RoomRole::Owner, true),
            ("bob", RoomRole::Operator, true),
            ("wanda", RoomRole::Member, true),
        ],
    )
    .await;
    bob.say("#hall", "from n3 now").await.unwrap();
    let heard = wait_for(&mut olive_events, |e| match e {
        Event::Message(m) if m.text.deref() == "from n3 now" => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(heard.from.deref(), "bob");
    let history = bob
        .history(&HistoryQuery {
            with: Some("#hall"),
            before: None,
            after: None,
            limit: 50,
        })
        .await
        .unwrap();
    assert!(
        history.iter().any(|m| m.text.deref() == "before bob moves"),
        "the room's history from the node bob moved to"
    );
}

#[tokio::test]
async fn a_room_created_or_changed_on_three_nodes_at_once_has_one_owner_and_one_topic() {
    let trio = Trio::start().await;
    let (a, _a_events) = user(trio.addr(0), "ann").await;
    let (b, _b_events) = user(trio.addr(1), "ben").await;
    let (c, _c_events) = user(trio.addr(2), "cat").await;
    for round in 0..5 {
        let room = format!("#race{round}");
        let (ra, rb, rc) = tokio::join!(
            a.join(&room, None),
            b.join(&room, None),
            c.join(&room, None)
        );
        let roles = [ra.unwrap().role, rb.unwrap().role, rc.unwrap().role];
        assert_eq!(
            roles.iter().filter(|r| **r == RoomRole::Owner).count(),
            1,
            "{room}: one creator, {roles:?}"
        );
        let owner =
            ["ann", "ben", "cat"][roles.iter().position(|r| *r == RoomRole::Owner).unwrap()];
        let mut want: Vec<(&str, RoomRole, bool)> = ["ann", "ben", "cat"]
            .into_iter()
            .map(|name| {
                let role = if name == owner {
                    RoomRole::Owner
                } else {
                    RoomRole::Member
                };
                (name, role, true)
            })
            .collect();
        want.sort_by_key(|(name, role, _)| (std::cmp::Reverse(*role), *name));
        members_everywhere(&[&a, &b, &c], &room, &want).await;
    }

    // Three topics set at once on three nodes: every node ends with the
    // same one (and it is one of them).
    let clients = [&a, &b, &c];
    let mut owner = None;
    for client in clients {
        if client.room("#race0").await.unwrap().unwrap().role == RoomRole::Owner {
            owner = Some(client);
        }
    }
    let owner = owner.expect("#race0 has an owner");
    for name in ["ann", "ben", "cat"] {
        let _ = owner.room_op("#race0", name, true).await;
    }
    for client in clients {
        eventually(PATIENCE, "everyone an operator", || async {
            let members = client.members("#race0").await.ok()?;
            members
                .iter()
                .all(|m| m.role >= RoomRole::Operator)
                .then_some(())
        })
        .await;
    }
    for round in 0..5 {
        let topics = [
            format!("a{round}"),
            format!("b{round}"),
            format!("c{round}"),
        ];
        let (ta, tb, tc) = tokio::join!(
            a.set_topic("#race0", &topics[0]),
            b.set_topic("#race0", &topics[1]),
            c.set_topic("#race0", &topics[2])
        );
        for set in [ta, tb, tc] {
            set.unwrap();
        }
        let agreed = eventually(PATIENCE, "one topic on every node", || async {
            let mut seen = Vec::new();
            for client in clients {
                seen.push(client.room("#race0").await.ok()??.topic.to_string());
            }
            seen.windows(2)
                .all(|pair| pair[0] == pair[1])
                .then(|| seen[0].clone())
        })
        .await;
        assert!(topics.contains(&agreed), "{agreed} is one of {topics:?}");
    }
}

#[tokio::test]
async fn the_guests_of_a_node_that_dies_or_restarts_leave_its_rooms_everywhere() {
    let mut trio = Trio::start().await;
    // gus (a guest on n3) creates #den; olive (n1) and ada (an account on
    // n3) join, and so does a guest of n2.
    let (gus, _gus_events) = user(trio.addr(2), "gus").await;
    let (ada, _ada_events) = account(&trio, 2, "ada").await;
    let (olive, mut olive_events) = user(trio.addr(0), "olive").await;
    let (nell, _nell_events) = user(trio.addr(1), "nell").await;
    gus.join("#den", None).await.unwrap();
    ada.join("#den", None).await.unwrap();
    olive.join("#den", None).await.unwrap();
    nell.join("#den", None).await.unwrap();
    members_everywhere(
        &[&olive, &nell, &gus],
        "#den",
        &[
            ("gus", RoomRole::Owner, true),
            ("ada", RoomRole::Member, true),
            ("nell", RoomRole::Member, true),
            ("olive", RoomRole::Member, true),
        ],
    )
    .await;

    // n3 dies: gus is out of #den on n1 and n2, and the room passes to its
    // longest-standing member; ada's account stays, offline.
    trio.nodes[2].child.kill().unwrap();
    let _ = trio.nodes[2].child.wait();
    let left = room_notice(&mut olive_events, NoticeKind::RoomLeft).await;
    assert_eq!(
        (left.subject.deref(), left.text.deref()),
        ("gus", "its server node stopped")
    );
    members_everywhere(
        &[&olive, &nell],
        "#den",
        &[
            ("ada", RoomRole::Owner, false),
            ("nell", RoomRole::Member, true),
            ("olive", RoomRole::Member, true),
        ],
    )
    .await;

    // A node that restarts gets the guests of the others from them: a
    // room of guests only, on n1 and n2, is whole on the new n2, and the
    // guests the old n2 had are gone everywhere.
    olive.join("#guests", None).await.unwrap();
    nell.join("#guests", None).await.unwrap();
    members_everywhere(
        &[&olive, &nell],
        "#guests",
        &[
            ("olive", RoomRole::Owner, true),
            ("nell", RoomRole::Member, true),
        ],
    )
    .await;
    let (stay, _stay_events) = user(trio.addr(0), "stay").await;
    stay.join("#guests", None).await.unwrap();
    trio.restart(1);
    let (fresh, _fresh_events) = user(trio.addr(1), "fresh").await;
    members_everywhere(
        &[&olive, &fresh],
        "#guests",
        &[
            ("olive", RoomRole::Owner, true),
            ("stay", RoomRole::Member, true),
        ],
    )
    .await;
    let again = fresh.join("#guests", None).await.unwrap();
    assert_eq!((again.role, again.members), (RoomRole::Member, 3));
}

#[tokio::test]
async fn without_nats_rooms_stay_as_they_are_and_agree_again_when_it_returns() {
    let mut trio = Trio::start().await;
    let (olive, _olive_events) = user(trio.addr(0), "olive").await;
    let (gus, _gus_events) = user(trio.addr(1), "gus").await;
    let (nell, _nell_events) = user(trio.addr(1), "nell").await;
    for member in [&olive, &gus, &nell] {
        member.join("#x", None).await.unwrap();
    }
    members_everywhere(
        &[&olive, &nell],
        "#x",
        &[
            ("olive", RoomRole::Owner, true),
            ("gus", RoomRole::Member, true),
            ("nell", RoomRole::Member, true),
        ],
    )
    .await;

    trio.nats.stop();
    // A change the other nodes cannot learn is not made (once the node
    // has noticed NATS is gone; one made just before is in the database,
    // which the nodes read again when NATS returns).
    eventually(PATIENCE, "room changes refused", || async {
        match olive.set_topic("#x", "alone").await {
            Err(ClientError::Server {
                code: ErrorCode::ClusterUnavailable,
                ..
            }) => Some(()),
            _ => None,
        }
    })
    .await;
    eventually(PATIENCE, "n2 noticed too", || async {
        match nell.join("#probe", None).await {
            Err(ClientError::Server {
                code: ErrorCode::ClusterUnavailable,
                ..
            }) => Some(()),
            Ok(_) => panic!("a room created while cut off"),
            Err(_) => None,
        }
    })
    .await;
    // A guest who leaves meanwhile leaves its rooms on its own node; n1
    // learns it when NATS is back.
    gus.logout().await.unwrap();

    trio.nats.resume();
    members_everywhere(
        &[&olive, &nell],
        "#x",
        &[
            ("olive", RoomRole::Owner, true),
            ("nell", RoomRole::Member, true),
        ],
    )
    .await;
    let topics = [
        olive.room("#x").await.unwrap().unwrap().topic,
        nell.room("#x").await.unwrap().unwrap().topic,
    ];
    assert_eq!(topics[0], topics[1], "one topic");
    eventually(PATIENCE * 3, "room changes made again", || async {
        olive.set_topic("#x", "back").await.ok()
    })
    .await;
    eventually(PATIENCE, "the new topic on n2", || async {
        let info = nell.room("#x").await.ok()??;
        (info.topic.deref() == "back").then_some(())
    })
    .await;
}
