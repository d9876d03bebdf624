//! The UI without a terminal or a server: network events and keys in,
//! ratatui's test backend out.

use std::time::Duration;

use chinwag_client::{
    DeliveryStatus, Event, Message, MessageKind, MuteState, Notice, NoticeKind, Role, Sent,
    Timestamp, UserInfo,
};
use chinwag_proto::MessageId;
use crossterm::event::{
    Event as TermEvent, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Effect, Link, SPOKE_LATELY};
use super::conversation::{Backlog, ConversationId};
use super::keys;
use super::net::{Job, NetEvent, Reply, Request};
use super::text;
use super::view;
use crate::exit::Exit;
use crate::render::Clock;

/// 14:03:07 UTC on 2023-11-14.
const T: u64 = 1_699_970_587_000;

fn user(name: &str, role: Role, muted: MuteState) -> UserInfo {
    UserInfo {
        name: name.into(),
        role,
        muted,
        addr: "".into(),
        advertised: "".into(),
        connected_at: Timestamp(0),
        username: "".into(),
        realname: "".into(),
        away: "".into(),
        sessions: 0,
        last_spoke: chinwag_proto::Timestamp(0),
        flags: 0,
    }
}

/// alice, online, with bob and root (an admin) and a muted carol.
fn app(width: u16, height: u16) -> App {
    let mut app = App::new("127.0.0.1:7070", "alice", Clock::Utc, Timestamp(T));
    app.resize(width, height);
    let opening = app.on_net(NetEvent::Online {
        name: "alice".into(),
        users: vec![
            user("root", Role::Admin, MuteState::NotMuted),
            user("bob", Role::User, MuteState::NotMuted),
            user("alice", Role::User, MuteState::NotMuted),
            user("carol", Role::User, MuteState::UntilLifted),
        ],
        reconnect: false,
        account: false,
        since: Timestamp(T),
    });
    // It asks for my rooms and the latest broadcasts, quietly.
    assert_eq!(
        opening,
        [
            job(ConversationId::Everyone, Request::MyRooms),
            job(
                ConversationId::Everyone,
                Request::History {
                    with: None,
                    before: None,
                    limit: 50,
                    shown: false
                }
            )
        ]
        .concat()
    );
    // The tests below start before that page comes.
    app.current_mut().backlog = Backlog::Unasked;
    app.current_mut().entries.clear();
    app
}

fn message(kind: MessageKind, from: &str, to: &str, text: &str, id: u64) -> NetEvent {
    NetEvent::Server(Event::Message(Message {
        id: MessageId(id),
        ts: Timestamp(T + id * 1000),
        kind,
        from: from.into(),
        to: to.into(),
        text: text.into(),
        ..Default::default()
    }))
}

fn notice(kind: NoticeKind, actor: &str, subject: &str, until: u64, text: &str) -> NetEvent {
    NetEvent::Server(Event::Notice(Notice {
        kind,
        ts: Timestamp(T),
        actor: actor.into(),
        subject: subject.into(),
        until,
        text: text.into(),
    }))
}

/// The screen as rows of text; a wide character is one entry followed by
/// nothing for the column it covers, as a terminal shows it.
fn screen(app: &App) -> Vec<String> {
    let area = app.areas.status;
    let (width, height) = (area.width, area.y + 2);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::render(frame, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            let mut row = String::new();
            let mut x = 0;
            while x < width {
                let symbol = buffer[(x, y)].symbol();
                row.push_str(symbol);
                x += text::width(symbol).max(1) as u16;
            }
            row.trim_end().to_owned()
        })
        .collect()
}

fn shows(app: &App, wanted: &str) -> bool {
    screen(app).iter().any(|row| row.contains(wanted))
}

fn key(app: &mut App, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
    keys::on_event(app, TermEvent::Key(KeyEvent::new(code, modifiers)))
}

fn type_line(app: &mut App, line: &str) -> Vec<Effect> {
    for c in line.chars() {
        key(app, KeyCode::Char(c), KeyModifiers::NONE);
    }
    key(app, KeyCode::Enter, KeyModifiers::NONE)
}

fn job(origin: ConversationId, request: Request) -> Vec<Effect> {
    vec![Effect::Net(Job { origin, request })]
}

fn click(app: &mut App, column: u16, row: u16) {
    keys::on_event(
        app,
        TermEvent::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    );
}

#[test]
fn the_layout_has_every_pane() {
    let mut app = app(100, 12);
    app.on_net(message(MessageKind::Broadcast, "bob", "", "hi all", 1));
    let rows = screen(&app);
    let want = [
        "┌ conversations ───┐┌ everyone ────────────────────────────────────────────────┐┌ online 4 ────────┐",
        "│1 everyone        ││14:03 bob: hi all                                         ││ alice            │",
        "│                  ││                                                          ││ bob              │",
        "│                  ││                                                          ││ carol muted      │",
        "│                  ││                                                          ││@root             │",
    ];
    assert_eq!(rows[..5], want, "{rows:#?}");
    assert_eq!(rows[10], " 127.0.0.1:7070 | alice | online");
    assert_eq!(rows[11], "[everyone]");
}

#[test]
fn narrow_terminals_drop_the_side_panes() {
    let app = app(50, 8);
    let rows = screen(&app);
    assert!(rows[0].starts_with("┌ everyone "), "{rows:#?}");
    assert!(!shows(&app, "online 4"));
    let app = self::app(60, 8);
    assert!(shows(&app, "conversations") && !shows(&app, "online 4"));
}

#[test]
fn wide_characters_wrap_inside_the_pane() {
    // 50 columns: only the message pane, 48 columns inside its border.
    let mut app = app(50, 12);
    let text = "服务器很简单，我们的聊天室支持中文、日本語のテキスト、そして絵文字👍🎉も大丈夫";
    app.on_net(message(MessageKind::Broadcast, "bob", "", text, 1));
    let rows = screen(&app);
    let body: Vec<&str> = rows[1..6]
        .iter()
        .map(|r| r.trim_start_matches('│').trim_end_matches('│'))
        .collect();
    for row in &body {
        assert!(text::width(row) <= 48, "{row:?} overflows");
    }
    // The first line holds the lead and as many full characters as fit;
    // the others are indented under the text, and nothing is lost.
    assert!(body[0].starts_with("14:03 bob: 服务器很简单"), "{body:#?}");
    assert!(body[1].starts_with("           "), "{body:#?}");
    let shown: String = body.iter().map(|r| r.trim()).collect::<Vec<_>>().join("");
    assert!(shown.contains(text), "{shown}\n{body:#?}");
    assert!(rows.iter().all(|r| text::width(r) <= 50));
}

#[test]
fn what_another_session_sent_goes_to_its_recipient_and_is_not_unread() {
    let mut app = app(100, 12);
    // alice, on another device, wrote to bob.
    app.on_net(message(MessageKind::Direct, "alice", "bob", "on my way", 1));
    assert_eq!(
        screen(&app)[2],
        format!("│2 bob             ││{:58}││ bob              │", "")
    );
    assert!(!shows(&app, "unread"));
    key(&mut app, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert!(shows(&app, "alice: on my way"));
}

#[test]
fn direct_messages_count_as_unread_until_opened() {
    let mut app = app(100, 12);
    app.on_net(message(MessageKind::Direct, "bob", "alice", "psst", 1));
    app.on_net(message(
        MessageKind::Direct,
        "bob",
        "alice",
        "are you there?",
        2,
    ));
    assert_eq!(
        screen(&app)[2],
        format!("│2 bob            2││{:58}││ bob              │", "")
    );
    assert!(shows(&app, "| 2 unread"));
    key(&mut app, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert_eq!(app.current().id, ConversationId::direct("bob"));
    assert!(shows(&app, "14:03 bob: are you there?"));
    assert!(shows(&app, "│2 bob             │"));
    // A broadcast while the direct conversation is open is unread in everyone.
    app.on_net(message(MessageKind::Broadcast, "root", "", "lunch", 3));
    assert!(shows(&app, "│1 everyone       1│"));
    key(&mut app, KeyCode::Char('1'), KeyModifiers::ALT);
    assert_eq!(app.open, 0);
    assert!(shows(&app, "│1 everyone        │"));
}

#[test]
fn text_goes_to_the_open_conversation() {
    let mut app = app(100, 12);
    assert_eq!(
        type_line(&mut app, "hello 你好"),
        job(
            ConversationId::Everyone,
            Request::Broadcast("hello 你好".into())
        )
    );
    let bob = ConversationId::direct("bob");
    assert_eq!(
        type_line(&mut app, "/msg Bob see you"),
        job(
            bob.clone(),
            Request::Send {
                to: "Bob".into(),
                text: "see you".into()
            }
        )
    );
    assert_eq!(app.current().id, bob, "/msg opens the conversation");
    assert_eq!(
        type_line(&mut app, "at five"),
        job(
            bob.clone(),
            Request::Send {
                to: "Bob".into(),
                text: "at five".into()
            }
        )
    );
    assert_eq!(
        type_line(&mut app, "/all everyone hear this"),
        job(bob.clone(), Request::Broadcast("everyone hear this".into()))
    );
    // The server's SENT puts our own message in place.
    app.on_net(NetEvent::Answer {
        origin: bob.clone(),
        result: Ok(Reply::Sent {
            to: Some("Bob".into()),
            text: "at five".into(),
            sent: Sent {
                id: MessageId(9),
                ts: Timestamp(T),
                status: DeliveryStatus::Delivered,
                recipients: 1,
                ..Default::default()
            },
        }),
    });
    assert!(shows(&app, "14:03 alice: at five"));
}

#[test]
fn every_protocol_command_becomes_a_request() {
    let mut app = app(100, 12);
    let here = ConversationId::Everyone;
    let cases = [
        ("/users", Request::Users { show: true }),
        ("/echo ping", Request::Echo("ping".into())),
        ("/admin s3cret", Request::Admin("s3cret".into())),
        (
            "/kick bob spam",
            Request::Kick {
                name: "bob".into(),
                reason: "spam".into(),
            },
        ),
        (
            "/mute bob 10m calm down",
            Request::Mute {
                name: "bob".into(),
                duration: Some(Duration::from_secs(600)),
                reason: "calm down".into(),
            },
        ),
        ("/unmute bob", Request::Unmute("bob".into())),
        ("/shutdown bye", Request::Shutdown("bye".into())),
    ];
    for (line, request) in cases {
        assert_eq!(
            type_line(&mut app, line),
            job(here.clone(), request),
            "{line}"
        );
    }
    assert_eq!(type_line(&mut app, "/quit"), vec![Effect::Quit]);
}

#[test]
fn local_commands_and_mistakes_answer_inline() {
    // Tall enough that /history's scroll to the top still shows its answer
    // below the whole /help.
    let mut app = app(160, 60);
    assert!(type_line(&mut app, "/help").is_empty());
    // Over the conversation, not in it; any key closes it.
    assert!(shows(&app, "help: any key closes"));
    assert!(shows(&app, "/mute NAME [DURATION] [REASON]"));
    assert!(shows(&app, "Alt-1 .. Alt-9"));
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert!(!shows(&app, "help: any key closes"));
    assert!(!shows(&app, "/mute NAME [DURATION] [REASON]"));
    type_line(&mut app, "/frobnicate");
    assert!(shows(
        &app,
        "! unknown command /frobnicate; /help lists the commands"
    ));
    type_line(&mut app, "/msg bob");
    assert!(shows(&app, "! usage: /msg NAME TEXT"));
    assert!(type_line(&mut app, "/passwd").is_empty());
    assert!(shows(
        &app,
        "! guests have no password; log in with --password"
    ));
    assert!(type_line(&mut app, "/passwd old new").is_empty());
    assert!(!app.input.remembers("old new"));
    type_line(&mut app, "/close");
    assert!(shows(&app, "the everyone conversation cannot be closed"));
    type_line(&mut app, "/query carol");
    assert_eq!(app.current().title, "carol");
    type_line(&mut app, "/close");
    assert_eq!(app.conversations.len(), 1);
}

#[test]
fn tab_completes_commands_and_names() {
    let mut app = app(100, 12);
    for c in "/mu".chars() {
        key(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
    }
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(app.input.text(), "/mute ");
    key(&mut app, KeyCode::Char('c'), KeyModifiers::NONE);
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(app.input.text(), "/mute carol ");
    assert!(shows(&app, "[everyone] /mute carol"));
}

#[test]
fn input_history_comes_back_with_up() {
    let mut app = app(100, 12);
    type_line(&mut app, "first");
    type_line(&mut app, "second");
    key(&mut app, KeyCode::Up, KeyModifiers::NONE);
    key(&mut app, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(app.input.text(), "first");
    key(&mut app, KeyCode::Down, KeyModifiers::NONE);
    assert_eq!(app.input.text(), "second");
}

#[test]
fn page_up_scrolls_back_and_page_down_returns() {
    let mut app = app(100, 12);
    for i in 1..=30 {
        app.on_net(message(
            MessageKind::Broadcast,
            "bob",
            "",
            &format!("line {i}"),
            i,
        ));
    }
    assert!(shows(&app, "bob: line 30") && !shows(&app, "bob: line 20"));
    key(&mut app, KeyCode::PageUp, KeyModifiers::NONE);
    assert!(shows(&app, "bob: line 20") && !shows(&app, "bob: line 30"));
    assert!(shows(&app, "scrolled up"));
    for _ in 0..10 {
        key(&mut app, KeyCode::PageUp, KeyModifiers::NONE);
    }
    assert!(shows(&app, "bob: line 1 "), "stops at the top");
    key(&mut app, KeyCode::PageDown, KeyModifiers::NONE);
    assert!(
        !shows(&app, "bob: line 1 "),
        "one page down leaves the top at once"
    );
    key(&mut app, KeyCode::End, KeyModifiers::NONE);
    assert!(shows(&app, "bob: line 30") && !shows(&app, "scrolled up"));
}

#[test]
fn the_mouse_switches_conversations() {
    let mut app = app(100, 12);
    app.on_net(message(MessageKind::Direct, "bob", "alice", "hi", 1));
    // Row 2 of the screen is the second conversation.
    click(&mut app, 5, 2);
    assert_eq!(app.current().id, ConversationId::direct("bob"));
    click(&mut app, 5, 1);
    assert_eq!(app.open, 0);
    // A click on carol in the users pane opens a conversation with her.
    click(&mut app, 85, 3);
    assert_eq!(app.current().title, "carol");
}

#[test]
fn moderation_shows_as_notices_and_markers() {
    let mut app = app(100, 12);
    app.on_net(notice(
        NoticeKind::Muted,
        "root",
        "alice",
        T + 300_000,
        "flood",
    ));
    assert!(shows(&app, "* you are muted by root for 5m (flood)"));
    assert!(shows(&app, "| muted 5m"));
    app.on_net(notice(NoticeKind::Unmuted, "", "alice", 0, ""));
    assert!(shows(&app, "* you may talk again"));
    assert!(!shows(&app, "| muted"));
    // Every join and leave, for this test (the smart filter has its own).
    type_line(&mut app, "/filter");
    app.on_net(notice(NoticeKind::Joined, "", "dave", 0, ""));
    assert!(shows(&app, "* dave joined") && shows(&app, "online 5"));
    app.on_net(notice(
        NoticeKind::Left,
        "",
        "dave",
        0,
        "kicked by root: spam",
    ));
    assert!(shows(&app, "* dave left (kicked by root: spam)") && shows(&app, "online 4"));
    // A refused request says why where it was typed.
    app.on_net(NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Err("you are muted for another 4m (Muted)".into()),
    });
    assert!(shows(&app, "! you are muted for another 4m (Muted)"));
    // Becoming admin marks us and asks for the user list again.
    let effects = app.on_net(NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Ok(Reply::Admin),
    });
    assert_eq!(
        effects,
        job(ConversationId::Everyone, Request::Users { show: false })
    );
    assert!(shows(&app, "| alice | online | admin") && shows(&app, "│@alice"));
}

#[test]
fn a_lost_connection_is_shown_then_restored() {
    let mut app = app(160, 12);
    app.on_net(NetEvent::Lost {
        why: "the server closed the connection".into(),
        retry_in: Duration::from_millis(500),
    });
    assert!(shows(
        &app,
        "connection lost (the server closed the connection); reconnecting in 1s"
    ));
    assert!(shows(&app, "| offline: reconnecting in 1s"));
    app.on_net(NetEvent::Retrying {
        attempt: 1,
        why: "connection refused".into(),
        retry_in: Duration::from_secs(1),
    });
    assert!(shows(
        &app,
        "offline: attempt 2 in 1s (last: connection refused)"
    ));
    app.on_net(NetEvent::Online {
        name: "alice".into(),
        users: vec![user("alice", Role::User, MuteState::NotMuted)],
        reconnect: true,
        account: false,
        since: Timestamp(T),
    });
    assert_eq!(app.link, Link::Online);
    assert!(shows(&app, "* reconnected to 127.0.0.1:7070 as alice"));
    assert!(shows(&app, "online 1"));
}

#[test]
fn a_kick_ends_the_session_for_good() {
    let mut app = app(160, 12);
    app.on_net(notice(NoticeKind::Kicked, "root", "alice", 0, "bye"));
    app.on_net(NetEvent::Ended {
        why: "kicked by root: bye".into(),
        exit: Exit::Kicked,
    });
    assert!(shows(&app, "* you were kicked by root: bye"));
    assert!(shows(
        &app,
        "kicked by root: bye; not reconnecting. /quit to exit"
    ));
    assert!(shows(&app, "| disconnected: kicked by root: bye"));
    assert_eq!(app.exit, Exit::Kicked);
}

#[test]
fn names_have_stable_colours() {
    assert_eq!(view::name_colour("bob"), view::name_colour("BOB"));
    let colours: std::collections::HashSet<_> = ["alice", "bob", "carol", "dave", "root"]
        .iter()
        .map(|n| format!("{:?}", view::name_colour(n)))
        .collect();
    assert!(colours.len() > 1);
}

#[test]
fn a_resize_lays_the_panes_out_again() {
    let mut app = app(100, 12);
    assert!(app.areas.users.is_some());
    keys::on_event(&mut app, TermEvent::Resize(50, 10));
    assert_eq!(app.areas.users, None);
    assert_eq!(app.areas.conversations, None);
    assert_eq!(app.areas.input.y, 9);
    assert!(screen(&app)[0].starts_with("┌ everyone "));
}

/// alice logged in to her account; the login was at message 10's time,
/// and the clock is past every message of these tests.
fn account_app(width: u16, height: u16) -> App {
    let mut app = app(width, height);
    app.now = Timestamp(T + 1_000_000);
    app.on_net(NetEvent::Online {
        name: "alice".into(),
        users: app.users.clone(),
        reconnect: false,
        account: true,
        since: Timestamp(T + 10_000),
    });
    app.current_mut().backlog = Backlog::Unasked;
    app.current_mut().entries.clear();
    app
}

fn stored(kind: MessageKind, from: &str, to: &str, text: &str, id: u64) -> Message {
    match message(kind, from, to, text, id) {
        NetEvent::Server(Event::Message(m)) => m,
        _ => unreachable!(),
    }
}

/// The server's answer to a HISTORY request: `ids` newest first.
fn page(origin: ConversationId, with: &str, ids: &[u64], limit: u16, shown: bool) -> NetEvent {
    let messages = ids
        .iter()
        .map(|&id| match with {
            "" => stored(MessageKind::Broadcast, "bob", "", &format!("old {id}"), id),
            _ => stored(MessageKind::Direct, with, "alice", &format!("old {id}"), id),
        })
        .collect();
    NetEvent::Answer {
        origin,
        result: Ok(Reply::History {
            messages,
            limit,
            shown,
        }),
    }
}

fn history(with: Option<&str>, before: Option<u64>, shown: bool) -> Request {
    Request::History {
        with: with.map(str::to_owned),
        before,
        limit: crate::line::HISTORY_PAGE,
        shown,
    }
}

#[test]
fn opening_a_direct_conversation_loads_its_history_once() {
    let mut app = account_app(100, 16);
    let bob = ConversationId::direct("bob");
    // A live message first: history goes back from it.
    app.on_net(message(MessageKind::Direct, "bob", "alice", "live 12", 12));
    // Opening it marks it read (the account's marker, on the server)
    // and loads what came before.
    assert_eq!(
        key(&mut app, KeyCode::Char('n'), KeyModifiers::CONTROL),
        [
            job(
                bob.clone(),
                Request::MarkRead {
                    with: Some("bob".into()),
                    id: MessageId(12)
                }
            ),
            job(bob.clone(), history(Some("bob"), Some(12), false))
        ]
        .concat()
    );
    assert!(shows(&app, "— loading earlier messages… —"));
    // Newest first, as the server sends it, and one already shown.
    app.on_net(page(bob.clone(), "bob", &[12, 7, 3], 50, false));
    let rows = screen(&app);
    let at = |text: &str| rows.iter().position(|r| r.contains(text));
    assert!(
        at("— start of the conversation —") < at("bob: old 3"),
        "{rows:#?}"
    );
    assert!(at("bob: old 3") < at("bob: old 7"), "{rows:#?}");
    assert!(at("bob: old 7") < at("bob: live 12"), "{rows:#?}");
    assert!(!shows(&app, "old 12"), "message 12 was already there");
    assert!(!shows(&app, "earlier message"), "a quiet load says nothing");
    // Back and forth: not loaded again.
    assert!(key(&mut app, KeyCode::Char('n'), KeyModifiers::CONTROL).is_empty());
    assert!(key(&mut app, KeyCode::Char('n'), KeyModifiers::CONTROL).is_empty());
    // At the start already, /history says so without asking.
    assert!(type_line(&mut app, "/history").is_empty());
    assert!(shows(&app, "* no earlier messages: this is the start"));
}

#[test]
fn history_pages_back_with_the_command_and_page_up() {
    let mut app = account_app(160, 16);
    let everyone = ConversationId::Everyone;
    app.on_net(message(MessageKind::Broadcast, "bob", "", "live 200", 200));
    assert_eq!(
        type_line(&mut app, "/history"),
        job(everyone.clone(), history(None, Some(200), true))
    );
    // A full page: there may be more.
    let ids: Vec<u64> = (150..200).rev().collect();
    app.on_net(page(everyone.clone(), "", &ids, 50, true));
    // The page's start is shown; at the bottom, what came.
    assert!(shows(&app, "bob: old 150"));
    assert!(!shows(&app, "live 200"));
    key(&mut app, KeyCode::End, KeyModifiers::NONE);
    assert!(shows(
        &app,
        "* 50 earlier messages from the server; /history or PageUp at the top for more"
    ));
    key(&mut app, KeyCode::Char('/'), KeyModifiers::NONE);
    key(&mut app, KeyCode::Backspace, KeyModifiers::NONE);
    for _ in 0..20 {
        key(&mut app, KeyCode::PageUp, KeyModifiers::NONE);
        if shows(&app, "bob: old 150") {
            break;
        }
    }
    // PageUp at the top asks for the next page, once.
    assert_eq!(
        key(&mut app, KeyCode::PageUp, KeyModifiers::NONE),
        job(everyone.clone(), history(None, Some(150), false))
    );
    assert!(key(&mut app, KeyCode::PageUp, KeyModifiers::NONE).is_empty());
    // It lands above without moving the view.
    let before = screen(&app);
    app.on_net(page(everyone.clone(), "", &[149, 148], 50, false));
    let after = screen(&app);
    assert_eq!(before[2..12], after[2..12], "{before:#?}\n{after:#?}");
    key(&mut app, KeyCode::PageUp, KeyModifiers::NONE);
    assert!(shows(&app, "— start of the conversation —"));
    assert!(shows(&app, "bob: old 148"));
    // /history NAME opens the conversation, which loads it.
    let carol = ConversationId::direct("carol");
    assert_eq!(
        type_line(&mut app, "/history carol"),
        job(carol.clone(), history(Some("carol"), None, false))
    );
    assert_eq!(app.current().id, carol);
    // A failure is said, and the next /history tries again.
    app.on_net(NetEvent::Answer {
        origin: carol.clone(),
        result: Err("the server could not read its storage (StorageFailure)".into()),
    });
    assert!(shows(&app, "! the server could not read its storage"));
    assert_eq!(
        type_line(&mut app, "/history"),
        job(carol, history(Some("carol"), None, true))
    );
}

#[test]
fn guests_are_told_direct_history_is_for_accounts() {
    let mut app = app(120, 16);
    // Opening a direct conversation asks for no history (only who is
    // online, to show whether bob is away).
    assert_eq!(
        type_line(&mut app, "/query bob"),
        job(
            ConversationId::direct("bob"),
            Request::Users { show: false }
        )
    );
    assert!(type_line(&mut app, "/history").is_empty());
    assert!(shows(
        &app,
        "! the server keeps direct messages for accounts only"
    ));
    assert!(key(&mut app, KeyCode::PageUp, KeyModifiers::NONE).is_empty());
    // The broadcasts' history is anyone's.
    key(&mut app, KeyCode::Char('1'), KeyModifiers::ALT);
    assert_eq!(
        type_line(&mut app, "/history"),
        job(ConversationId::Everyone, history(None, None, true))
    );
}

#[test]
fn messages_queued_while_away_count_as_unread() {
    let mut app = account_app(120, 16);
    // Delivered at login with their original times (before the login).
    app.on_net(message(
        MessageKind::Direct,
        "bob",
        "alice",
        "are you there?",
        4,
    ));
    app.on_net(message(MessageKind::Direct, "bob", "alice", "call me", 5));
    app.on_net(message(MessageKind::Direct, "carol", "alice", "lunch?", 6));
    // And one live, after the login.
    app.on_net(message(MessageKind::Direct, "carol", "alice", "now?", 11));
    assert_eq!(app.conversations[1].unread, 2);
    assert_eq!(app.conversations[2].unread, 2);
    assert!(shows(&app, "| 4 unread, 3 sent while you were away"));
    key(&mut app, KeyCode::Char('2'), KeyModifiers::ALT);
    assert!(shows(&app, "bob: call me"));
    assert!(shows(&app, "| 2 unread, 1 sent while you were away"));
    key(&mut app, KeyCode::Char('3'), KeyModifiers::ALT);
    assert!(!shows(&app, "unread"));
}

#[test]
fn passwd_asks_without_showing_or_keeping_the_passwords() {
    let mut app = account_app(120, 16);
    assert!(type_line(&mut app, "/passwd").is_empty());
    assert!(shows(
        &app,
        "current password (hidden; Enter, or Esc to cancel):"
    ));
    assert!(type_line(&mut app, "old-secret").is_empty());
    assert!(shows(&app, "new password (hidden"));
    // Up brings back no earlier line into a prompt.
    key(&mut app, KeyCode::Up, KeyModifiers::NONE);
    assert!(type_line(&mut app, "new-secret").is_empty());
    assert!(shows(&app, "new password again (hidden"));
    for c in "new-secret".chars() {
        key(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
        assert!(!shows(&app, "new-"), "nothing of a password is drawn");
    }
    assert_eq!(
        key(&mut app, KeyCode::Enter, KeyModifiers::NONE),
        job(
            ConversationId::Everyone,
            Request::Passwd {
                old: "old-secret".into(),
                new: "new-secret".into()
            }
        )
    );
    assert!(app.prompt.is_none());
    app.on_net(NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Ok(Reply::PasswordChanged),
    });
    assert!(shows(&app, "* password changed"));

    // The two new ones differ.
    for line in ["/passwd", "a", "b", "c"] {
        assert!(type_line(&mut app, line).is_empty());
    }
    assert!(shows(
        &app,
        "! the new passwords differ; password not changed"
    ));
    // Esc gives up.
    type_line(&mut app, "/passwd");
    key(&mut app, KeyCode::Char('x'), KeyModifiers::NONE);
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert!(app.prompt.is_none() && app.input.is_empty());
    // On one line it works too; neither form is kept for Up.
    assert_eq!(
        type_line(&mut app, "/passwd new-secret newer-secret"),
        job(
            ConversationId::Everyone,
            Request::Passwd {
                old: "new-secret".into(),
                new: "newer-secret".into()
            }
        )
    );
    type_line(&mut app, "/admin hunter2");
    for secret in ["secret", "hunter2", "a", "b", "c", "x"] {
        assert!(!app.input.remembers(secret), "{secret} is kept");
    }
    let screen = screen(&app).join("\n");
    assert!(
        !screen.contains("secret") && !screen.contains("hunter2"),
        "{screen}"
    );
}

#[test]
fn rooms_are_conversations() {
    use crate::rooms::{RoomLine, RoomReply};
    use chinwag_client::{RoomInfo, RoomMode, RoomNotice, RoomRole};

    let mut app = app(120, 30);
    // /join asks the server; the answer opens the room's conversation.
    let effects = type_line(&mut app, "/join #general");
    assert_eq!(
        effects,
        job(
            ConversationId::Everyone,
            Request::Room(RoomLine::Join {
                room: "#general".into(),
                password: None
            })
        )
    );
    let effects = app.on_net(NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Ok(Reply::Room(RoomReply::Joined(RoomInfo {
            room: "#General".into(),
            topic: "chat".into(),
            members: 2,
            mode: RoomMode::NEW,
            role: RoomRole::Member,
            ..Default::default()
        }))),
    });
    assert_eq!(app.current().id, ConversationId::room("#general"));
    // Opened for the first time, it loads its history (guests too).
    assert_eq!(
        effects,
        job(
            ConversationId::room("#general"),
            history(Some("#General"), None, false)
        )
    );
    assert_eq!(app.current().title, "#General");
    assert!(shows(
        &app,
        "you are in #General (2 members, you are member); topic: chat"
    ));

    // Typing in it sends to the room; /leave and /topic mean this room.
    let room = ConversationId::room("#general");
    assert_eq!(
        type_line(&mut app, "hello room"),
        job(
            room.clone(),
            Request::Room(RoomLine::Say {
                room: "#General".into(),
                text: "hello room".into()
            })
        )
    );
    assert_eq!(
        type_line(&mut app, "/topic"),
        job(
            room.clone(),
            Request::Room(RoomLine::Topic {
                room: Some("#General".into()),
                text: String::new()
            })
        )
    );

    // Room messages and notices land in the room, not in "everyone".
    app.switch_to(0);
    app.on_net(message(MessageKind::Room, "bob", "#General", "hi all", 5));
    let index = app.conversations.iter().position(|c| c.id == room).unwrap();
    assert_eq!(app.conversations[index].unread, 1);
    app.on_net(NetEvent::Server(Event::RoomNotice(RoomNotice {
        kind: NoticeKind::RoomTopic,
        ts: Timestamp(T),
        room: "#General".into(),
        actor: "bob".into(),
        subject: "".into(),
        until: 0,
        text: "new topic".into(),
    })));
    app.switch_to(index);
    assert!(shows(&app, "bob: hi all"));
    assert!(shows(&app, "bob set the topic: new topic"));

    // After a reconnect the rooms are joined again.
    app.on_net(NetEvent::Lost {
        why: "gone".into(),
        retry_in: Duration::from_secs(1),
    });
    let effects = app.on_net(NetEvent::Online {
        name: "alice".into(),
        users: vec![],
        reconnect: true,
        account: false,
        since: Timestamp(T),
    });
    assert_eq!(
        effects,
        job(
            room,
            Request::Room(RoomLine::Join {
                room: "#General".into(),
                password: None
            })
        )
    );
}

fn room_info(room: &str, topic: &str, role: chinwag_client::RoomRole) -> chinwag_client::RoomInfo {
    chinwag_client::RoomInfo {
        room: room.into(),
        topic: topic.into(),
        members: 3,
        mode: chinwag_client::RoomMode::NEW.with(chinwag_client::RoomMode::INVITE_ONLY, true),
        role,
        ..Default::default()
    }
}

#[test]
fn my_rooms_are_listed_at_login_with_topic_and_mode_in_the_header() {
    use chinwag_client::{RoomNotice, RoomRole};

    let mut app = app(140, 14);
    app.on_net(NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Ok(Reply::MyRooms(vec![
            room_info("#rust", "borrowck support group", RoomRole::Operator),
            room_info("#elsewhere", "", RoomRole::None),
            room_info("#tea", "", RoomRole::Member),
        ])),
    });
    // The rooms I am in, not the others; the open conversation stays.
    let titles: Vec<&str> = app.conversations.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["everyone", "#rust", "#tea"]);
    assert_eq!(app.open, 0);
    assert!(shows(&app, "2 #rust"));
    assert!(!shows(&app, "#elsewhere"));
    key(&mut app, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert!(
        shows(
            &app,
            "#rust [invite-only] (3 members, you are operator): borrowck support group"
        ),
        "{:#?}",
        screen(&app)
    );
    // A new topic or mode from the server goes into the header.
    let room_notice = |kind, until, text: &str| {
        NetEvent::Server(Event::RoomNotice(RoomNotice {
            kind,
            ts: Timestamp(T),
            room: "#rust".into(),
            actor: "bob".into(),
            subject: "".into(),
            until,
            text: text.into(),
        }))
    };
    app.on_net(room_notice(NoticeKind::RoomTopic, 0, "lifetimes today"));
    app.on_net(room_notice(NoticeKind::RoomMode, 40, ""));
    assert!(
        shows(&app, "#rust (3 members, you are operator): lifetimes today"),
        "{:#?}",
        screen(&app)
    );
}

#[test]
fn a_reconnect_keeps_the_open_conversation() {
    use crate::rooms::{RoomLine, RoomReply};
    use chinwag_client::RoomRole;

    let mut app = app(120, 14);
    app.on_net(NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Ok(Reply::MyRooms(vec![
            room_info("#a", "", RoomRole::Member),
            room_info("#b", "", RoomRole::Member),
        ])),
    });
    app.query("bob");
    let bob = ConversationId::direct("bob");
    app.on_net(NetEvent::Lost {
        why: "connection reset".into(),
        retry_in: Duration::from_secs(1),
    });
    let rejoins = app.on_net(NetEvent::Online {
        name: "alice".into(),
        users: vec![],
        reconnect: true,
        account: false,
        since: Timestamp(T),
    });
    // Each room is joined again from its own conversation...
    let rooms: Vec<ConversationId> = rejoins
        .iter()
        .map(|e| match e {
            Effect::Net(Job {
                origin,
                request: Request::Room(RoomLine::Join { .. }),
            }) => origin.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        rooms,
        [ConversationId::room("#a"), ConversationId::room("#b")]
    );
    // ... and their answers leave the user where they were.
    for (origin, room) in rooms.into_iter().zip(["#a", "#b"]) {
        app.on_net(NetEvent::Answer {
            origin,
            result: Ok(Reply::Room(RoomReply::Joined(room_info(
                room,
                "",
                RoomRole::Member,
            )))),
        });
    }
    assert_eq!(app.current().id, bob);
    // A /join typed by the user still goes to the room.
    type_line(&mut app, "/join #c");
    app.on_net(NetEvent::Answer {
        origin: bob,
        result: Ok(Reply::Room(RoomReply::Joined(room_info(
            "#c",
            "",
            RoomRole::Owner,
        )))),
    });
    assert_eq!(app.current().id, ConversationId::room("#c"));
}

#[test]
fn mentions_are_highlighted_counted_apart_and_ring_the_bell() {
    let mut app = app(120, 14);
    let room = |text: &str, id| message(MessageKind::Room, "bob", "#rust", text, id);
    // Not a mention: "malice" only contains the name.
    assert!(app.on_net(room("no malice meant", 1)).is_empty());
    assert_eq!(app.on_net(room("Alice: look at this", 2)), [Effect::Bell]);
    assert!(shows(&app, "│2 #rust       2/@1│"), "{:#?}", screen(&app));
    assert!(shows(&app, "| 2 unread | 1 for you"));
    // A direct message rings too, but is not counted as a mention.
    assert_eq!(
        app.on_net(message(MessageKind::Direct, "carol", "alice", "hey", 3)),
        [Effect::Bell]
    );
    assert!(shows(&app, "│3 carol          1│"), "{:#?}", screen(&app));
    // My own words (from another session) never ring.
    assert!(
        app.on_net(message(
            MessageKind::Room,
            "alice",
            "#rust",
            "alice here",
            4
        ))
        .is_empty()
    );
    // Without the bell: still highlighted and counted.
    app.bell = false;
    assert!(app.on_net(room("alice?", 5)).is_empty());
    assert!(shows(&app, "| 4 unread | 2 for you"), "{:#?}", screen(&app));
    // Opening the room reads them all.
    key(&mut app, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert!(shows(&app, "| 1 unread") && !shows(&app, "for you"));
}

#[test]
fn the_smart_filter_folds_joins_and_leaves_of_the_quiet() {
    let mut app = app(120, 14);
    app.on_net(notice(NoticeKind::Joined, "", "dave", 0, ""));
    assert!(!shows(&app, "dave joined"), "dave has not spoken");
    app.on_net(message(MessageKind::Broadcast, "bob", "", "brb", 1));
    app.on_net(notice(NoticeKind::Left, "", "bob", 0, ""));
    assert!(shows(&app, "* bob left"), "bob spoke a moment ago");
    // Ten minutes later bob counts as quiet again.
    app.now = Timestamp(T + 1000 + SPOKE_LATELY.as_millis() as u64 + 1);
    app.on_net(notice(NoticeKind::Joined, "", "bob", 0, ""));
    assert!(!shows(&app, "* bob joined"));
    // /filter shows everything that was folded.
    type_line(&mut app, "/filter");
    assert!(shows(&app, "* dave joined") && shows(&app, "* bob joined"));
}

#[test]
fn the_help_scrolls_in_a_short_terminal() {
    let mut app = app(120, 16);
    type_line(&mut app, "/help");
    let lines = app.help.as_ref().map_or(0, Vec::len);
    assert!(
        shows(&app, &format!(" help 1-14 of {lines}: arrows scroll")),
        "{:#?}",
        screen(&app)
    );
    assert!(shows(&app, "/msg NAME TEXT"));
    key(&mut app, KeyCode::PageDown, KeyModifiers::NONE);
    assert!(shows(&app, &format!(" help 11-24 of {lines}")));
    assert!(!shows(&app, "/msg NAME TEXT"));
    // Past the end, the last page stays full.
    for _ in 0..20 {
        key(&mut app, KeyCode::Down, KeyModifiers::NONE);
        key(&mut app, KeyCode::PageDown, KeyModifiers::NONE);
    }
    assert!(shows(&app, &format!("-{lines} of {lines}")));
    // Typing closes it; the key is not typed.
    key(&mut app, KeyCode::Char('x'), KeyModifiers::NONE);
    assert!(app.help.is_none() && app.input.is_empty());
}

#[test]
fn bans_and_the_audit_log_from_the_ui() {
    use crate::line::Moderation;

    let mut app = app(120, 14);
    assert_eq!(
        type_line(&mut app, "/ban eve 1h spam"),
        job(
            ConversationId::Everyone,
            Request::Moderation(Moderation::Ban {
                target: "eve".into(),
                duration: Some(Duration::from_secs(3600)),
                reason: "spam".into()
            })
        )
    );
    assert_eq!(
        type_line(&mut app, "/audit 3"),
        job(
            ConversationId::Everyone,
            Request::Moderation(Moderation::Audit { limit: 3 })
        )
    );
    // The table comes as one answer, shown line by line.
    app.on_net(NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Ok(Reply::Done(
            "ID  ACTION  TARGET\n7   ban     eve".to_owned(),
        )),
    });
    assert!(shows(&app, "* ID  ACTION  TARGET"));
    assert!(shows(&app, "* 7   ban     eve"));
}

#[test]
fn read_markers_from_the_server_make_the_unread_counts() {
    use chinwag_client::ReadMarker;

    let mut app = App::new("127.0.0.1:7070", "alice", Clock::Utc, Timestamp(T));
    app.resize(120, 14);
    let opening = app.on_net(NetEvent::Online {
        name: "alice".into(),
        users: vec![],
        reconnect: false,
        account: true,
        since: Timestamp(T),
    });
    assert!(opening.contains(&Effect::Net(Job {
        origin: ConversationId::Everyone,
        request: Request::Markers
    })));
    // Read in another session: bob's conversation up to 10, everyone's up
    // to 3. What came after each is asked for.
    let asks = app.on_net(NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Ok(Reply::Markers(vec![
            ReadMarker {
                conversation: "bob".into(),
                id: MessageId(10),
            },
            ReadMarker {
                conversation: "*".into(),
                id: MessageId(3),
            },
        ])),
    });
    assert_eq!(
        asks,
        [
            job(
                ConversationId::direct("bob"),
                Request::Unread {
                    with: Some("bob".into()),
                    after: 10
                }
            ),
            job(
                ConversationId::Everyone,
                Request::Unread {
                    with: None,
                    after: 3
                }
            ),
        ]
        .concat()
    );
    let unread = |with: Option<&str>, after, messages: Vec<Message>| NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Ok(Reply::Unread {
            with: with.map(str::to_owned),
            after,
            messages,
        }),
    };
    // Two of bob's since the marker (one naming alice), and my own reply.
    app.on_net(unread(
        Some("bob"),
        10,
        vec![
            stored(MessageKind::Direct, "bob", "alice", "still there?", 11),
            stored(MessageKind::Direct, "bob", "alice", "alice!", 12),
            stored(MessageKind::Direct, "alice", "bob", "yes", 13),
        ],
    ));
    assert!(shows(&app, "│2 bob         2/@1│"), "{:#?}", screen(&app));
    // Everyone is open: what came there is read at once, and the server
    // is told.
    let marks = app.on_net(unread(
        None,
        3,
        vec![stored(MessageKind::Broadcast, "carol", "", "morning", 4)],
    ));
    assert_eq!(
        marks,
        job(
            ConversationId::Everyone,
            Request::MarkRead {
                with: None,
                id: MessageId(4)
            }
        )
    );
    // Opening bob's marks it read up to the newest; again, nothing new.
    let opened = key(&mut app, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert_eq!(
        opened[0],
        Effect::Net(Job {
            origin: ConversationId::direct("bob"),
            request: Request::MarkRead {
                with: Some("bob".into()),
                id: MessageId(13)
            }
        })
    );
    key(&mut app, KeyCode::Char('p'), KeyModifiers::CONTROL);
    let again = key(&mut app, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert!(
        !again.iter().any(|e| matches!(
            e,
            Effect::Net(Job {
                request: Request::MarkRead { .. },
                ..
            })
        )),
        "{again:?}"
    );
    // A guest has no markers to ask for or keep.
    let mut guest = app_guest();
    guest.on_net(message(MessageKind::Broadcast, "bob", "", "hi", 1));
    assert!(guest.switch_to(0).is_empty());
}

fn app_guest() -> App {
    app(100, 12)
}

#[test]
fn away_shows_in_the_list_the_header_and_once_when_writing() {
    let mut app = app(120, 14);
    assert_eq!(
        type_line(&mut app, "/away lunch"),
        job(ConversationId::Everyone, Request::Away("lunch".into()))
    );
    let mut bob = user("bob", Role::User, MuteState::NotMuted);
    bob.away = "at lunch".into();
    app.on_net(NetEvent::Answer {
        origin: ConversationId::Everyone,
        result: Ok(Reply::Users {
            users: vec![user("alice", Role::User, MuteState::NotMuted), bob],
            show: false,
        }),
    });
    assert!(shows(&app, " bob away"), "{:#?}", screen(&app));
    app.query("bob");
    assert!(shows(&app, "bob (direct, away: at lunch)"));
    type_line(&mut app, "are you there?");
    type_line(&mut app, "hello?");
    let told = screen(&app)
        .iter()
        .filter(|row| row.contains("bob is away: at lunch"))
        .count();
    assert_eq!(told, 1, "{:#?}", screen(&app));
    assert_eq!(
        type_line(&mut app, "/whois bob"),
        job(ConversationId::direct("bob"), Request::Whois("bob".into()))
    );
}

#[test]
fn me_sends_an_action_and_actions_show_as_such() {
    let mut app = app(120, 14);
    assert_eq!(
        type_line(&mut app, "/me waves 👋"),
        job(
            ConversationId::Everyone,
            Request::Broadcast("\u{1}ACTION waves 👋\u{1}".into())
        )
    );
    assert!(type_line(&mut app, "/me").is_empty());
    assert!(shows(&app, "! usage: /me TEXT"));
    app.on_net(message(
        MessageKind::Broadcast,
        "bob",
        "",
        "\u{1}ACTION stretches\u{1}",
        1,
    ));
    assert!(shows(&app, "14:03 * bob stretches"), "{:#?}", screen(&app));
    assert!(!shows(&app, "ACTION"));
}

#[test]
fn a_rename_is_shown_and_the_user_list_follows_it() {
    let mut app = app(100, 30);
    app.on_net(NetEvent::Server(Event::User(chinwag_client::UserUpdate {
        ts: Timestamp(T + 1_000),
        name: "robert".into(),
        old_name: "bob".into(),
        changed: chinwag_client::user_changed::NAME,
        flags: 0,
        username: "".into(),
        realname: "".into(),
        away: "".into(),
    })));
    assert!(shows(&app, "* bob is now known as robert"));
    assert!(shows(&app, "robert"));
    assert!(!screen(&app).iter().any(|row| row.contains("│ bob")));
}
