//! The stores on their own: every method, reopening, pruning and
//! concurrent writes. Every test runs against both backends, the embedded
//! SQLite one and PostgreSQL (a fresh database per test), through the
//! `Store` trait alone.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::room::MaskList;
use chinwag_proto::server::{MessageId, MuteState, Timestamp};
use chinwag_proto::{NameKey, RoomKey, RoomName, RoomRole, UserName};
use chinwag_server::store::{
    AuditAction, AuditRecord, BanRecord, BanTarget, Conversation, ConversationKey, Durability,
    HistoryQuery, MaskRecord, MemberRecord, MuteRecord, NewMessage, NewRoomMessage, PostgresStore,
    ReadMarker, Retention, RoomMeta, RoomRecord, RoomWrite, SqliteStore, Store, StoreError,
};
use common::postgres::TestDatabase;

/// Where a test's store lives; [`Db::open`] opens it, again after a
/// close to test what survives.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl Db {
    async fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn postgres() -> Db {
        Db::Postgres(TestDatabase::create().await)
    }

    async fn open_with(&self, durability: Durability) -> Arc<dyn Store> {
        match self {
            Db::Sqlite(dir) => Arc::new(SqliteStore::open(dir.path(), durability).unwrap()),
            Db::Postgres(db) => Arc::new(PostgresStore::connect(&db.url).await.unwrap()),
        }
    }

    async fn open(&self) -> Arc<dyn Store> {
        self.open_with(Durability::Full).await
    }

    /// Runs SQL on the database directly, as another program (or an older
    /// chinwagd) would.
    async fn run_sql(&self, sql: &str) {
        match self {
            Db::Sqlite(dir) => rusqlite::Connection::open(dir.path().join("chinwag.db"))
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Db::Postgres(db) => {
                let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                client.batch_execute(sql).await.unwrap();
            }
        }
    }
}

/// Runs each test body once per backend, as `sqlite::NAME` and
/// `postgres::NAME`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Db::sqlite().await).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Db::postgres().await).await
            })*
        }
    };
}

on_both_backends!(
    messages_history_and_the_offline_queue,
    accounts_roles_mutes_bans_and_audit,
    a_reader_pages_through_all_its_conversations_in_id_order,
    pruning_keeps_what_is_queued_and_drops_ended_moderation,
    concurrent_appends_all_get_distinct_ids,
    appends_of_one_commit_each_get_their_own_row,
    a_message_the_database_refuses_fails_alone,
    schema_versions,
    rooms_and_their_messages,
    rows_an_older_chinwagd_wrote_read_back_with_typed_keys,
    accounts_are_found_by_lookalike_names,
    migrating_to_skeletons_fills_them_for_existing_accounts,
    direct_messages_before_an_account_existed_are_not_its_own,
    read_markers_move_forward_per_account_and_conversation,
    a_notice_keeps_its_kind_and_a_redacted_message_leaves_history,
    read_markers_by_time_find_the_message_read_up_to,
    metadata_is_kept_per_account_and_key,
);

fn key(name: &str) -> NameKey {
    NameKey::fold(name).unwrap()
}

fn name(name: &str) -> UserName {
    UserName::parse(name).unwrap()
}

fn dm(from: &str, to: &str, text: &str, ts: u64) -> NewMessage {
    NewMessage {
        ts: Timestamp(ts),
        from: name(from),
        to: Some(name(to)),
        text: text.into(),
        queue_for: None,
        notice: false,
    }
}

fn audit(action: AuditAction, target: &str) -> AuditRecord {
    AuditRecord {
        ts: Timestamp(1),
        actor: "root".into(),
        action,
        target: target.into(),
        until: 0,
        reason: "why".into(),
    }
}

fn page(conversation: Conversation, limit: u32) -> HistoryQuery {
    HistoryQuery {
        conversation,
        before: None,
        after: None,
        limit,
        direct_since: Timestamp(0),
    }
}

/// A guest called bob talked with alice at 10; the account bob was created
/// at 15: the account reads its own direct messages only, in its direct
/// conversation and in `@me`, and broadcasts of any time.
async fn direct_messages_before_an_account_existed_are_not_its_own(db: Db) {
    let store = db.open().await;
    let guest = store
        .append(dm("alice", "bob", "to the guest", 10))
        .await
        .unwrap();
    let old_broadcast = store
        .append(NewMessage {
            to: None,
            ..dm("carol", "bob", "hello all", 11)
        })
        .await
        .unwrap();
    let own = store
        .append(dm("alice", "bob", "to the account", 20))
        .await
        .unwrap();
    let since = Timestamp(15);
    let ids = |page: Vec<chinwag_server::store::StoredMessage>| -> Vec<MessageId> {
        page.iter().map(|m| m.id).collect()
    };
    let direct = Conversation::Direct(key("bob"), key("alice"));
    let read = store
        .history(HistoryQuery {
            direct_since: since,
            ..page(direct.clone(), 10)
        })
        .await
        .unwrap();
    assert_eq!(ids(read), [own]);
    let read = store
        .history(HistoryQuery {
            direct_since: since,
            ..page(Conversation::Reader(key("bob")), 10)
        })
        .await
        .unwrap();
    assert_eq!(ids(read), [own, old_broadcast]);
    // Without a bound (alice's view: she took part in both) all of it.
    let read = store.history(page(direct, 10)).await.unwrap();
    assert_eq!(ids(read), [own, guest]);
}

async fn messages_history_and_the_offline_queue(db: Db) {
    let store = db.open().await;
    let a = store.append(dm("Alice", "bob", "one", 10)).await.unwrap();
    let b = store.append(dm("bob", "alice", "two", 20)).await.unwrap();
    let c = store
        .append(NewMessage {
            to: None,
            ..dm("alice", "bob", "all", 30)
        })
        .await
        .unwrap();
    let d = store
        .append(NewMessage {
            queue_for: Some(key("bob")),
            ..dm("alice", "bob", "queued", 40)
        })
        .await
        .unwrap();
    assert!(a < b && b < c && c < d);

    let direct = Conversation::Direct(key("BOB"), key("alice"));
    let all = store.history(page(direct.clone(), 10)).await.unwrap();
    let texts: Vec<_> = all.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["queued", "two", "one"]);
    assert_eq!(all[2].from, "Alice", "the spelling is kept");
    assert_eq!(all[2].ts, Timestamp(10));
    assert!(
        all.iter()
            .all(|m| m.conversation == ConversationKey::direct(key("alice"), key("bob")))
    );
    let broadcast = store
        .history(page(Conversation::Broadcast, 10))
        .await
        .unwrap();
    assert_eq!(broadcast.len(), 1);
    assert_eq!(broadcast[0].to, "");
    assert_eq!(broadcast[0].conversation, ConversationKey::Broadcast);

    let before = store
        .history(HistoryQuery {
            before: Some(d),
            ..page(direct.clone(), 1)
        })
        .await
        .unwrap();
    assert_eq!(before[0].id, b);
    let after = store
        .history(HistoryQuery {
            after: Some(a),
            ..page(direct.clone(), 1)
        })
        .await
        .unwrap();
    assert_eq!(after[0].id, b, "the one right after");

    // The queue: only bob's, oldest first, above a mark, until delivered.
    store.enqueue(key("bob"), a).await.unwrap();
    let waiting = store.pending(key("bob"), MessageId(0), 10).await.unwrap();
    assert_eq!(
        waiting.iter().map(|m| m.id).collect::<Vec<_>>(),
        [a, d],
        "oldest first"
    );
    assert!(
        store
            .pending(key("alice"), MessageId(0), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.pending(key("bob"), a, 10).await.unwrap().len(), 1);
    store.delivered(key("bob"), a).await.unwrap();
    let waiting = store.pending(key("bob"), MessageId(0), 10).await.unwrap();
    assert_eq!(waiting.iter().map(|m| m.id).collect::<Vec<_>>(), [d]);
    store.close().await.unwrap();

    // Reopened: everything is there, and ids keep growing.
    let store = db.open_with(Durability::Normal).await;
    assert_eq!(store.history(page(direct, 10)).await.unwrap().len(), 3);
    assert_eq!(
        store
            .pending(key("bob"), MessageId(0), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let e = store.append(dm("alice", "bob", "later", 50)).await.unwrap();
    assert!(e > d);
    store.close().await.unwrap();
    assert_eq!(
        store.append(dm("alice", "bob", "x", 1)).await,
        Err(StoreError::Closed)
    );
}

async fn a_reader_pages_through_all_its_conversations_in_id_order(db: Db) {
    let store = db.open().await;
    let broadcast = |text: &str| NewMessage {
        to: None,
        ..dm("carol", "carol", text, 1)
    };
    let mut mine = Vec::new();
    mine.push(store.append(dm("alice", "bob", "to bob", 1)).await.unwrap());
    // Not bob's: names that contain or look like his.
    store.append(dm("alice", "bob_x", "no", 1)).await.unwrap();
    store.append(dm("abob", "carol", "no", 1)).await.unwrap();
    store.append(dm("bobx", "bo", "no", 1)).await.unwrap();
    mine.push(store.append(broadcast("all")).await.unwrap());
    mine.push(store.append(dm("BOB", "zed", "from bob", 1)).await.unwrap());
    mine.push(store.append(dm("bob", "bob", "to self", 1)).await.unwrap());

    let reader = Conversation::Reader(key("Bob"));
    let everything = store.history(page(reader.clone(), 10)).await.unwrap();
    let ids: Vec<_> = everything.iter().rev().map(|m| m.id).collect();
    assert_eq!(ids, mine);
    // Reading forward from a resume point, a page at a time.
    let mut after = mine[0];
    let mut read = Vec::new();
    loop {
        let page = store
            .history(HistoryQuery {
                after: Some(after),
                ..page(reader.clone(), 2)
            })
            .await
            .unwrap();
        read.extend(page.iter().rev().map(|m| m.id));
        match page.first() {
            Some(newest) if page.len() == 2 => after = newest.id,
            _ => break,
        }
    }
    assert_eq!(read, mine[1..]);
}

async fn accounts_roles_mutes_bans_and_audit(db: Db) {
    let store = db.open().await;
    assert!(store.account(key("alice")).await.unwrap().is_none());
    assert!(
        store
            .create_account(name("Alice"), "hash1".into(), Timestamp(5))
            .await
            .unwrap()
    );
    assert!(
        !store
            .create_account(name("ALICE"), "hash2".into(), Timestamp(6))
            .await
            .unwrap(),
        "one account per name, any spelling"
    );
    let account = store.account(key("alice")).await.unwrap().unwrap();
    assert_eq!(
        (account.name.as_str(), account.password_hash.as_str()),
        ("Alice", "hash1")
    );
    assert!(!account.admin);
    assert!(!format!("{account:?}").contains("hash1"), "never in logs");
    assert!(
        store
            .set_password(key("alice"), "hash3".into())
            .await
            .unwrap()
    );
    assert!(!store.set_password(key("nobody"), "x".into()).await.unwrap());

    assert!(
        store
            .set_admin(key("alice"), true, audit(AuditAction::Grant, "alice"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_admin(key("nobody"), true, audit(AuditAction::Grant, "nobody"))
            .await
            .unwrap()
    );
    assert_eq!(store.admins().await.unwrap(), ["Alice"]);
    assert_eq!(store.account_names().await.unwrap(), ["Alice"]);

    let mute = MuteRecord {
        name: key("bob"),
        until: MuteState::UntilLifted,
        by: "root".into(),
        reason: "loud".into(),
    };
    store
        .set_mute(mute.clone(), audit(AuditAction::Mute, "bob"))
        .await
        .unwrap();
    assert_eq!(store.mutes().await.unwrap(), [mute]);
    assert!(
        store
            .lift_mute(key("bob"), audit(AuditAction::Unmute, "bob"))
            .await
            .unwrap()
    );
    assert!(store.mutes().await.unwrap().is_empty());

    let ban = BanRecord {
        target: BanTarget::parse("10.0.0.1").unwrap(),
        until: MuteState::Until(Timestamp(1_000)),
        by: "root".into(),
        reason: "bots".into(),
        at: Timestamp(1),
    };
    store
        .ban(ban.clone(), audit(AuditAction::Ban, "10.0.0.1"))
        .await
        .unwrap();
    assert_eq!(store.bans().await.unwrap(), std::slice::from_ref(&ban));
    store
        .record(audit(AuditAction::Kick, "carol"))
        .await
        .unwrap();
    assert!(
        store
            .unban(ban.target.clone(), audit(AuditAction::Unban, "10.0.0.1"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .unban(ban.target.clone(), audit(AuditAction::Unban, "10.0.0.1"))
            .await
            .unwrap(),
        "not banned: nothing logged"
    );

    let log = store.audit_log(None, 100).await.unwrap();
    let actions: Vec<_> = log.iter().map(|e| e.record.action).collect();
    use AuditAction::*;
    assert_eq!(actions, [Unban, Kick, Ban, Unmute, Mute, Grant]);
    assert_eq!(log[1].record, audit(Kick, "carol"), "as it was written");
    let older = store.audit_log(Some(log[1].id), 2).await.unwrap();
    assert_eq!(
        older.iter().map(|e| e.id).collect::<Vec<_>>(),
        [log[2].id, log[3].id]
    );
    store.close().await.unwrap();
}

async fn pruning_keeps_what_is_queued_and_drops_ended_moderation(db: Db) {
    let store = db.open().await;
    let old = store.append(dm("a", "b", "old", 1_000)).await.unwrap();
    let queued = store
        .append(NewMessage {
            queue_for: Some(key("b")),
            ..dm("a", "b", "old but queued", 1_000)
        })
        .await
        .unwrap();
    for i in 0..5 {
        store
            .append(dm("a", "b", &format!("new {i}"), 100_000))
            .await
            .unwrap();
    }
    store
        .set_mute(
            MuteRecord {
                name: key("b"),
                until: MuteState::Until(Timestamp(50_000)),
                by: "root".into(),
                reason: String::new(),
            },
            audit(AuditAction::Mute, "b"),
        )
        .await
        .unwrap();
    let retention = Retention {
        max_age: Some(Duration::from_secs(10)),
        max_count: None,
    };
    let deleted = store.prune(retention, Timestamp(100_000)).await.unwrap();
    assert_eq!(deleted, 1);
    let left = store
        .history(page(Conversation::Direct(key("a"), key("b")), 100))
        .await
        .unwrap();
    assert!(left.iter().all(|m| m.id != old));
    assert!(left.iter().any(|m| m.id == queued), "still waiting for b");
    assert!(store.mutes().await.unwrap().is_empty(), "the mute ended");

    let retention = Retention {
        max_age: None,
        max_count: Some(3),
    };
    store.prune(retention, Timestamp(100_000)).await.unwrap();
    let left = store
        .history(page(Conversation::Direct(key("a"), key("b")), 100))
        .await
        .unwrap();
    let texts: Vec<_> = left.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["new 4", "new 3", "new 2", "old but queued"]);
}

async fn concurrent_appends_all_get_distinct_ids(db: Db) {
    let store = db.open().await;
    let appends: Vec<_> = (0..500)
        .map(|i| store.append(dm("a", "b", &format!("m{i}"), i)))
        .collect();
    let ids = futures::future::try_join_all(appends).await.unwrap();
    if let Db::Sqlite(_) = db {
        // One writer: submitted in order, so committed in order (and in
        // shared commits).
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 500);
    let all = store
        .history(page(Conversation::Direct(key("a"), key("b")), 1000))
        .await
        .unwrap();
    assert_eq!(all.len(), 500, "every acknowledged append is there");
}

/// Appends submitted together share commits (and statements): direct
/// messages, ones queued for an offline account and room messages mixed,
/// each answered with the id of its own row; the offline queue holds
/// exactly the queued ones; and ids are never reused, even after the
/// newest rows are deleted and the store reopened.
async fn appends_of_one_commit_each_get_their_own_row(db: Db) {
    let store = db.open().await;
    let room = RoomName::parse("#batch").unwrap();
    let appends: Vec<_> = (0..300u64)
        .map(|i| {
            let text = format!("m{i}");
            if i % 5 == 0 {
                store.append_room(NewRoomMessage {
                    ts: Timestamp(i),
                    from: name("alice"),
                    room: room.clone(),
                    text,
                    notice: false,
                })
            } else if i % 7 == 0 {
                store.append(NewMessage {
                    queue_for: Some(key("bob")),
                    ..dm("alice", "bob", &text, i)
                })
            } else {
                store.append(dm("alice", "bob", &text, i))
            }
        })
        .collect();
    let ids = futures::future::try_join_all(appends).await.unwrap();
    let mut stored = store
        .history(page(Conversation::Direct(key("alice"), key("bob")), 1000))
        .await
        .unwrap();
    stored.extend(
        store
            .history(page(Conversation::Room(room.key()), 1000))
            .await
            .unwrap(),
    );
    assert_eq!(stored.len(), 300);
    for (i, id) in ids.iter().enumerate() {
        let row = stored.iter().find(|m| m.id == *id).expect("its row");
        assert_eq!(
            (row.text.as_str(), row.ts),
            (format!("m{i}").as_str(), Timestamp(i as u64))
        );
    }
    // (Several nodes' commits may interleave on PostgreSQL: the queue is
    // in id order, which need not be the order of submission there.)
    let mut queued: Vec<_> = store
        .pending(key("bob"), MessageId(0), 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    queued.sort();
    let mut expected: Vec<_> = (0..300)
        .filter(|i| i % 5 != 0 && i % 7 == 0)
        .map(|i| ids[i])
        .collect();
    expected.sort();
    assert_eq!(queued, expected);

    let newest = *ids.iter().max().unwrap();
    store.close().await.unwrap();
    db.run_sql("DELETE FROM inbox; DELETE FROM messages;").await;
    let store = db.open().await;
    let next = store.append(dm("alice", "bob", "after", 1)).await.unwrap();
    assert!(next > newest, "{next:?} reuses an id up to {newest:?}");
    store.close().await.unwrap();
}

/// PostgreSQL refuses a text with a NUL byte; submitted among others that
/// share its group commit, it fails alone and the others are stored.
/// (SQLite stores it.)
async fn a_message_the_database_refuses_fails_alone(db: Db) {
    let store = db.open().await;
    let appends: Vec<_> = (0..50u64)
        .map(|i| {
            let text = if i == 25 {
                "nul\0byte".to_owned()
            } else {
                format!("m{i}")
            };
            store.append(dm("alice", "bob", &text, i))
        })
        .collect();
    let results = futures::future::join_all(appends).await;
    for (i, result) in results.iter().enumerate() {
        match (i, &db) {
            (25, Db::Postgres(_)) => {
                assert!(matches!(result, Err(StoreError::Failed(_))), "{result:?}")
            }
            _ => assert!(result.is_ok(), "message {i}: {result:?}"),
        }
    }
    let stored = store
        .history(page(Conversation::Direct(key("alice"), key("bob")), 100))
        .await
        .unwrap();
    let expected = if let Db::Postgres(_) = db { 49 } else { 50 };
    assert_eq!(stored.len(), expected);
    store.close().await.unwrap();
}

async fn rooms_and_their_messages(db: Db) {
    let store = db.open().await;
    let room = RoomName::parse("#Rust").unwrap();
    let key = room.key();
    let meta = RoomMeta {
        name: "#Rust".into(),
        topic: "crabs".into(),
        mode: 3,
        password: Some("pw".into()),
        limit: 10,
        created: Timestamp(1_000),
        topic_by: "Alice".into(),
        topic_ts: Timestamp(2_000),
    };
    store
        .write_room(RoomWrite::Meta(meta.clone()))
        .await
        .unwrap();
    let owner = MemberRecord {
        name: "Alice".into(),
        role: RoomRole::Owner,
        since: 1,
        voiced: false,
    };
    let member = MemberRecord {
        name: "bob".into(),
        role: RoomRole::Member,
        since: 2,
        voiced: false,
    };
    for m in [&owner, &member] {
        store
            .write_room(RoomWrite::Member(key, m.clone()))
            .await
            .unwrap();
    }
    let op = MemberRecord {
        role: RoomRole::Operator,
        voiced: true,
        ..member.clone()
    };
    let ban = MaskRecord {
        list: MaskList::Ban,
        mask: "carol!*@*".into(),
        set_by: "Alice".into(),
        set_at: Timestamp(3_000),
    };
    let mute = MaskRecord {
        list: MaskList::Mute,
        mask: "dave!*@*".into(),
        set_at: Timestamp(4_000),
        ..ban.clone()
    };
    for mask in [&ban, &mute] {
        for _ in 0..2 {
            // Adding one twice keeps one.
            store
                .write_room(RoomWrite::Mask(key, mask.clone()))
                .await
                .unwrap();
        }
    }
    store
        .write_room(RoomWrite::Member(key, op.clone()))
        .await
        .unwrap();
    store
        .write_room(RoomWrite::Mute(
            key,
            self::key("bob"),
            MuteState::UntilLifted,
        ))
        .await
        .unwrap();
    let rooms = store.rooms().await.unwrap();
    assert_eq!(
        rooms,
        [RoomRecord {
            meta: meta.clone(),
            members: vec![owner.clone(), op],
            mutes: vec![(self::key("bob"), MuteState::UntilLifted)],
            masks: vec![ban.clone(), mute.clone()],
        }]
    );
    store
        .write_room(RoomWrite::Unmask(key, MaskList::Ban, ban.mask.clone()))
        .await
        .unwrap();
    assert_eq!(store.rooms().await.unwrap()[0].masks, [mute]);
    store
        .write_room(RoomWrite::Mute(key, self::key("bob"), MuteState::NotMuted))
        .await
        .unwrap();
    store
        .write_room(RoomWrite::RemoveMember(key, self::key("bob")))
        .await
        .unwrap();
    let rooms = store.rooms().await.unwrap();
    assert_eq!((rooms[0].members.len(), rooms[0].mutes.len()), (1, 0));

    let first = store.append(dm("a", "b", "direct", 1)).await.unwrap();
    let said = store
        .append_room(NewRoomMessage {
            ts: Timestamp(2),
            from: name("alice"),
            room: room.clone(),
            text: "hello room".into(),
            notice: false,
        })
        .await
        .unwrap();
    assert!(said > first, "one id sequence for every message");
    let said_there = store
        .history(page(Conversation::Room(key), 10))
        .await
        .unwrap();
    assert_eq!(said_there.len(), 1);
    let m = &said_there[0];
    assert_eq!(
        (m.to.as_str(), m.text.as_str(), m.conversation),
        ("#Rust", "hello room", ConversationKey::Room(key))
    );

    store.write_room(RoomWrite::Delete(key)).await.unwrap();
    assert!(store.rooms().await.unwrap().is_empty());
    assert_eq!(
        store
            .history(page(Conversation::Room(key), 10))
            .await
            .unwrap()
            .len(),
        1,
        "a deleted room keeps its history"
    );
    store.close().await.unwrap();
}

/// The `conv` column keeps the format every chinwagd wrote (`*`, `#room`,
/// `a b`): rows written before the keys were typed read back as typed
/// keys, and a value no chinwagd wrote is a clear error, not a guess.
async fn rows_an_older_chinwagd_wrote_read_back_with_typed_keys(db: Db) {
    db.open().await.close().await.unwrap();
    db.run_sql(
        "INSERT INTO messages (ts, conv, sender, recipient, text) VALUES
           (1, '*', 'Carol', '', 'to all'),
           (2, 'alice bob', 'Bob', 'Alice', 'direct'),
           (3, '#rust', 'alice', '#Rust', 'to the room');
         INSERT INTO rooms (room_key, name, topic, mode, password)
           VALUES ('rust', '#Rust', '', 0, NULL);
         INSERT INTO room_members (room_key, name_key, name, role, since)
           VALUES ('rust', 'alice', 'alice', 3, 1);",
    )
    .await;
    let store = db.open().await;
    let mine = store
        .history(page(Conversation::Reader(key("Alice")), 10))
        .await
        .unwrap();
    let read: Vec<_> = mine
        .iter()
        .map(|m| (m.conversation, m.to.as_str(), m.text.as_str()))
        .collect();
    assert_eq!(
        read,
        [
            (
                ConversationKey::Room(RoomKey::fold("#rust").unwrap()),
                "#Rust",
                "to the room"
            ),
            (
                ConversationKey::direct(key("bob"), key("alice")),
                "Alice",
                "direct"
            ),
            (ConversationKey::Broadcast, "", "to all"),
        ]
    );
    store.close().await.unwrap();

    // Two spaces: alice's by its prefix, but not a key any chinwagd wrote.
    db.run_sql(
        "INSERT INTO messages (ts, conv, sender, recipient, text)
           VALUES (4, 'alice  bob', 'bob', 'alice', 'odd')",
    )
    .await;
    let store = db.open().await;
    match store
        .history(page(Conversation::Reader(key("alice")), 10))
        .await
    {
        Err(StoreError::Failed(message)) => {
            assert!(message.contains("is not a conversation key"), "{message}")
        }
        other => panic!("expected a storage failure, got {other:?}"),
    }
    store.close().await.unwrap();
}

/// An account is found by a name with its confusable skeleton and another
/// key, never by its own name.
async fn accounts_are_found_by_lookalike_names(db: Db) {
    let store = db.open().await;
    assert!(
        store
            .create_account(name("Alice"), "h".into(), Timestamp(1))
            .await
            .unwrap()
    );
    assert!(
        store
            .create_account(name("小明"), "h".into(), Timestamp(1))
            .await
            .unwrap()
    );
    // A Cyrillic а, and a fullwidth spelling of the same.
    let found = store.account_like(key("\u{430}lice")).await.unwrap();
    assert_eq!(found.map(|a| a.name).as_deref(), Some("Alice"));
    let found = store.account_like(key("ＡＬＩＣＥ\u{430}")).await.unwrap();
    assert!(found.is_none(), "alicea looks like no account");
    assert!(store.account_like(key("alice")).await.unwrap().is_none());
    assert!(store.account_like(key("小明")).await.unwrap().is_none());
    assert!(store.account_like(key("bob")).await.unwrap().is_none());
    store.close().await.unwrap();
}

/// A database from before skeletons were stored gets them for the
/// accounts it holds when this build opens it.
async fn migrating_to_skeletons_fills_them_for_existing_accounts(db: Db) {
    db.open().await.close().await.unwrap();
    let back_to_version_2 = match &db {
        Db::Sqlite(_) => "PRAGMA user_version = 2;",
        Db::Postgres(_) => "UPDATE schema_version SET version = 2;",
    };
    // A version 2 database has none of what the later migrations add.
    db.run_sql(&format!(
        "DROP TABLE read_markers;
         DROP TABLE ignores;
         ALTER TABLE messages DROP COLUMN flags;
         DROP TABLE metadata;
         DROP TABLE room_masks;
         ALTER TABLE rooms DROP COLUMN member_limit;
         ALTER TABLE rooms DROP COLUMN created;
         ALTER TABLE rooms DROP COLUMN topic_by;
         ALTER TABLE rooms DROP COLUMN topic_ts;
         ALTER TABLE room_members DROP COLUMN voiced;
         DROP INDEX accounts_by_skeleton;
         ALTER TABLE accounts DROP COLUMN name_skeleton;
         INSERT INTO accounts (name_key, name, password_hash, admin, created_at)
           VALUES ('modern', 'Modern', 'h', {no}, 1);
         INSERT INTO rooms (room_key, name, topic, mode, password)
           VALUES ('old', '#old', 'then', 1, NULL);
         {back_to_version_2}",
        no = if matches!(db, Db::Sqlite(_)) {
            "0"
        } else {
            "FALSE"
        },
    ))
    .await;
    let store = db.open().await;
    let found = store.account_like(key("rnodern")).await.unwrap();
    assert_eq!(found.map(|a| a.name).as_deref(), Some("Modern"));
    assert!(store.account(key("MODERN")).await.unwrap().is_some());
    // A room from before the room settings keeps what rooms did then:
    // members-only sending and an operators' topic (8 + 32).
    let rooms = store.rooms().await.unwrap();
    let old = &rooms[0].meta;
    assert_eq!(
        (old.mode, old.limit, old.created, old.topic_by.as_str()),
        (1 | 8 | 32, 0, Timestamp(0), "")
    );
    store.close().await.unwrap();
}

/// Each account's markers are its own, one per conversation, and only
/// move forward; they survive a reopen.
async fn read_markers_move_forward_per_account_and_conversation(db: Db) {
    let store = db.open().await;
    let bob_alice = ConversationKey::direct(key("bob"), key("alice"));
    let room = ConversationKey::Room(RoomKey::fold("#tea").unwrap());
    store
        .mark_read(key("alice"), bob_alice, MessageId(7))
        .await
        .unwrap();
    store
        .mark_read(key("alice"), bob_alice, MessageId(5))
        .await
        .unwrap();
    store
        .mark_read(key("alice"), room, MessageId(3))
        .await
        .unwrap();
    store
        .mark_read(key("alice"), ConversationKey::Broadcast, MessageId(9))
        .await
        .unwrap();
    store
        .mark_read(key("bob"), bob_alice, MessageId(2))
        .await
        .unwrap();
    store.close().await.unwrap();

    let store = db.open().await;
    let mut alice: Vec<(String, u64)> = store
        .read_markers(key("alice"))
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.conversation.to_column(), m.up_to.0))
        .collect();
    alice.sort();
    assert_eq!(
        alice,
        [
            ("#tea".to_owned(), 3),
            ("*".to_owned(), 9),
            ("alice bob".to_owned(), 7)
        ]
    );
    let bob = store.read_markers(key("bob")).await.unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].up_to, MessageId(2));
    assert!(store.read_markers(key("carol")).await.unwrap().is_empty());
    store.close().await.unwrap();
}

/// A marker set by time points at the newest message at or before that
/// time; one set by id takes that message's time; neither goes back.
async fn read_markers_by_time_find_the_message_read_up_to(db: Db) {
    let store = db.open().await;
    let tea = RoomKey::fold("#tea").unwrap();
    let room = ConversationKey::Room(tea);
    let mut ids = Vec::new();
    for ts in [100, 200, 300] {
        let id = store.append(dm("bob", "alice", "hi", ts)).await.unwrap();
        ids.push(id);
    }
    let bob_alice = ConversationKey::direct(key("bob"), key("alice"));
    let marker = |markers: Vec<ReadMarker>, conv: ConversationKey| {
        markers
            .into_iter()
            .find(|m| m.conversation == conv)
            .map(|m| (m.up_to, m.ts))
    };
    store
        .mark_read_at(key("alice"), bob_alice, Timestamp(250))
        .await
        .unwrap();
    let found = marker(store.read_markers(key("alice")).await.unwrap(), bob_alice);
    assert_eq!(found, Some((ids[1], Timestamp(250))));
    // Back in time: nothing moves.
    store
        .mark_read_at(key("alice"), bob_alice, Timestamp(150))
        .await
        .unwrap();
    let found = marker(store.read_markers(key("alice")).await.unwrap(), bob_alice);
    assert_eq!(found, Some((ids[1], Timestamp(250))));
    // By id: the time of the message read.
    store
        .mark_read(key("alice"), bob_alice, ids[2])
        .await
        .unwrap();
    let found = marker(store.read_markers(key("alice")).await.unwrap(), bob_alice);
    assert_eq!(found, Some((ids[2], Timestamp(300))));
    // A room with no messages yet: the time alone.
    store
        .mark_read_at(key("alice"), room, Timestamp(1_000))
        .await
        .unwrap();
    let found = marker(store.read_markers(key("alice")).await.unwrap(), room);
    assert_eq!(found, Some((MessageId(0), Timestamp(1_000))));
    store.close().await.unwrap();
}

/// An account's metadata: set, replaced, deleted, cleared; kept across a
/// reopen; each account's its own.
async fn metadata_is_kept_per_account_and_key(db: Db) {
    let store = db.open().await;
    let set = |account: &str, key: &str, value: Option<&str>| {
        store.set_metadata(key_of(account), key.to_owned(), value.map(str::to_owned))
    };
    fn key_of(name: &str) -> NameKey {
        NameKey::fold(name).unwrap()
    }
    set("alice", "avatar", Some("a.png")).await.unwrap();
    set("alice", "color", Some("red")).await.unwrap();
    set("alice", "color", Some("blue")).await.unwrap();
    set("alice", "display-name", Some("Alice")).await.unwrap();
    set("alice", "avatar", None).await.unwrap();
    set("bob", "color", Some("green")).await.unwrap();
    store.close().await.unwrap();
    let store = db.open().await;
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(
        store.metadata(key("alice")).await.unwrap(),
        pairs(&[("color", "blue"), ("display-name", "Alice")])
    );
    store
        .set_metadata(key("alice"), "*".into(), None)
        .await
        .unwrap();
    assert!(store.metadata(key("alice")).await.unwrap().is_empty());
    assert_eq!(
        store.metadata(key("bob")).await.unwrap(),
        pairs(&[("color", "green")])
    );
    store.close().await.unwrap();
}

/// Opening twice applies the migrations once; a database from a newer
/// build is refused.
async fn schema_versions(db: Db) {
    let store = db.open().await;
    store.close().await.unwrap();
    let store = db.open().await;
    store.close().await.unwrap();
    if let Db::Postgres(test_db) = &db {
        let (client, connection) = tokio_postgres::connect(&test_db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute("UPDATE schema_version SET version = version + 1")
            .await
            .unwrap();
        match PostgresStore::connect(&test_db.url).await {
            Err(StoreError::TooNew { .. }) => {}
            Err(other) => panic!("expected TooNew, got {other}"),
            Ok(_) => panic!("opened a database from a newer chinwagd"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_clear_storage_failure() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres:secret@127.0.0.1:{port}/chinwag");
    match PostgresStore::connect(&url).await {
        Err(StoreError::Failed(message)) => {
            assert!(message.contains("cannot reach PostgreSQL"), "{message}");
            assert!(!message.contains("secret"), "no password in errors");
        }
        Err(other) => panic!("expected Failed, got {other}"),
        Ok(_) => panic!("connected to nothing"),
    }
}

#[tokio::test]
async fn writes_fail_clearly_while_postgres_is_unreachable_and_none_is_half_done() {
    let db = TestDatabase::create().await;
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let kept = store.append(dm("a", "b", "kept", 1)).await.unwrap();
    // Cut every connection the store has, as a PostgreSQL restart would.
    terminate_connections(&db).await;
    // A pooled connection is found dead when it is used: that call fails
    // with a clear error, the connection is dropped, and the next calls
    // open new ones. Whether the write below fails or not, an
    // acknowledged write is never lost.
    let after = store.append(dm("a", "b", "after", 2)).await;
    let mut history = None;
    for _ in 0..20 {
        match store
            .history(page(Conversation::Direct(key("a"), key("b")), 10))
            .await
        {
            Ok(found) => {
                history = Some(found);
                break;
            }
            Err(StoreError::Failed(message)) => {
                assert!(message.contains("PostgreSQL"), "{message}")
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    let history = history.expect("the store recovers from lost connections");
    let ids: Vec<_> = history.iter().map(|m| m.id).collect();
    assert!(ids.contains(&kept));
    match after {
        Ok(id) => assert!(ids.contains(&id), "acknowledged, so stored"),
        Err(StoreError::Failed(message)) => assert!(message.contains("PostgreSQL"), "{message}"),
        Err(other) => panic!("unexpected error {other}"),
    }
    let again = store.append(dm("a", "b", "again", 3)).await.unwrap();
    assert!(again > kept);
    store.close().await.unwrap();
    assert_eq!(
        store.append(dm("a", "b", "x", 4)).await,
        Err(StoreError::Closed)
    );
}

async fn terminate_connections(db: &TestDatabase) {
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let admin = std::env::var("CHINWAG_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .await
        .unwrap();
}

#[test]
fn a_data_directory_that_cannot_be_created_is_a_clear_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let error = match SqliteStore::open(&file.path().join("sub"), Durability::Full) {
        Err(error) => error,
        Ok(_) => panic!("opened a data directory inside a file"),
    };
    assert!(matches!(error, StoreError::DataDir { .. }), "{error}");
}

/// A NOTICE is stored as one; a deleted message (REDACT) is gone from
/// history and the offline queue, and is deleted once.
async fn a_notice_keeps_its_kind_and_a_redacted_message_leaves_history(db: Db) {
    let store = db.open().await;
    let notice = store
        .append(NewMessage {
            notice: true,
            ..dm("alice", "bob", "automatic", 1)
        })
        .await
        .unwrap();
    let queued = store
        .append(NewMessage {
            queue_for: Some(key("bob")),
            ..dm("alice", "bob", "oops", 2)
        })
        .await
        .unwrap();
    let stored = store.message(notice).await.unwrap().unwrap();
    assert!(stored.notice && stored.text == "automatic");
    assert!(store.redact(queued).await.unwrap());
    assert!(!store.redact(queued).await.unwrap(), "deleted once");
    assert_eq!(store.message(queued).await.unwrap(), None);
    let page = store
        .history(HistoryQuery {
            conversation: Conversation::Direct(key("alice"), key("bob")),
            before: None,
            after: None,
            limit: 10,
            direct_since: Timestamp(0),
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), vec![notice]);
    assert!(page[0].notice);
    let pending = store.pending(key("bob"), MessageId(0), 10).await.unwrap();
    assert!(pending.is_empty(), "{pending:?}");
    store.close().await.unwrap();
}
