//! Drawing: the layout of the panes and how each looks. Reads the
//! [`App`], never changes it.
//!
//! ```text
//! ┌conversations┐┌everyone──────────────────┐┌online 3──┐
//! │1 everyone   ││14:03 alice: hi           ││@alice    │
//! │2 bob       2││14:04 * bob joined        ││ bob      │
//! └─────────────┘└──────────────────────────┘└──────────┘
//!  status line
//!  input line
//! ```
//! Narrow terminals drop the users pane, then the conversations pane.

use chinwag_client::{MuteState, Role, RoomMode, RoomRole};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::render::{self, Clock};
use crate::tui::app::{App, Link};
use crate::tui::conversation::{Backlog, Body, Conversation, ConversationId, Tone, same_user};
use crate::tui::text;

/// Outer widths of the side panes.
const CONVERSATIONS_WIDTH: u16 = 20;
const USERS_WIDTH: u16 = 20;

/// Where each pane is. The side panes are `None` when the terminal is too
/// narrow for them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Areas {
    pub conversations: Option<Rect>,
    pub messages: Rect,
    pub users: Option<Rect>,
    pub status: Rect,
    pub input: Rect,
}

impl Areas {
    /// The message pane inside its border.
    pub fn messages_inner(&self) -> Rect {
        inner(self.messages)
    }
}

fn inner(area: Rect) -> Rect {
    Block::bordered().inner(area)
}

pub fn layout(area: Rect) -> Areas {
    let [main, status, input] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let (conversations, messages, users) = if area.width >= 80 {
        let [c, m, u] = Layout::horizontal([
            Constraint::Length(CONVERSATIONS_WIDTH),
            Constraint::Min(20),
            Constraint::Length(USERS_WIDTH),
        ])
        .areas(main);
        (Some(c), m, Some(u))
    } else if area.width >= 56 {
        let [c, m] =
            Layout::horizontal([Constraint::Length(CONVERSATIONS_WIDTH), Constraint::Min(20)])
                .areas(main);
        (Some(c), m, None)
    } else {
        (None, main, None)
    };
    Areas {
        conversations,
        messages,
        users,
        status,
        input,
    }
}

/// A colour for a name, the same every time and for every client: a hash
/// of the name (ignoring case) picks from colours readable on dark and
/// light backgrounds alike.
pub fn name_colour(name: &str) -> Color {
    const PALETTE: [Color; 10] = [
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::LightRed,
        Color::LightGreen,
        Color::LightBlue,
        Color::LightMagenta,
    ];
    // FNV-1a: stable across runs and versions, unlike std's hasher.
    let hash = name
        .to_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    PALETTE[(hash % PALETTE.len() as u64) as usize]
}

const TIME: Style = Style::new().fg(Color::DarkGray);

/// A conversation as lines of at most `width` columns: `HH:MM sender: text`
/// with continuation lines indented under the text, notices marked `*`,
/// errors `!`.
pub fn wrapped_lines(
    conversation: &Conversation,
    me: &str,
    clock: Clock,
    width: usize,
    smart_filter: bool,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let marker = match conversation.backlog {
        Backlog::Loading => Some("loading earlier messages…"),
        Backlog::Complete => Some("start of the conversation"),
        Backlog::Unasked | Backlog::Partial => None,
    };
    if let Some(marker) = marker {
        let marker = text::ellipsize(&format!("— {marker} —"), width);
        lines.push(Line::styled(marker, TIME));
    }
    for entry in &conversation.entries {
        let time = format!("{} ", clock.hms(entry.ts).get(..5).unwrap_or("??:??"));
        let (lead, text, style) = match &entry.body {
            Body::Message {
                from,
                text,
                action,
                mention,
            } => {
                let mut name = Style::new().fg(name_colour(from));
                if same_user(from, me) {
                    name = name.add_modifier(Modifier::BOLD);
                }
                let style = if *mention {
                    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
                } else {
                    Style::new()
                };
                let lead = if *action {
                    vec![
                        Span::styled(time, TIME),
                        Span::styled("* ", style),
                        Span::styled(from.clone(), name),
                        Span::raw(" "),
                    ]
                } else {
                    vec![
                        Span::styled(time, TIME),
                        Span::styled(from.clone(), name),
                        Span::raw(": "),
                    ]
                };
                (lead, text, style)
            }
            Body::Notice { quiet: true, .. } if smart_filter => continue,
            Body::Notice { text, tone, .. } => {
                let (mark, style) = match tone {
                    Tone::Info => ("* ", Style::new().fg(Color::Cyan)),
                    Tone::Alert => (
                        "* ",
                        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                    ),
                    Tone::Error => ("! ", Style::new().fg(Color::Red)),
                };
                (
                    vec![Span::styled(time, TIME), Span::styled(mark, style)],
                    text,
                    style,
                )
            }
        };
        let lead_width: usize = lead.iter().map(|s| text::width(&s.content)).sum();
        // Indent under the text when that leaves a usable column, else a little.
        let indent = if width >= lead_width + 12 {
            lead_width
        } else {
            2
        };
        let first = width.saturating_sub(lead_width);
        let rest = width.saturating_sub(indent);
        let mut pieces = if first == 0 {
            // Not even the lead fits: the text starts on the next line.
            let mut p = vec![String::new()];
            p.extend(text::wrap(text, rest, rest));
            p
        } else {
            text::wrap(text, first, rest)
        }
        .into_iter();
        let mut first_line = lead;
        first_line.push(Span::styled(pieces.next().unwrap_or_default(), style));
        lines.push(Line::from(first_line));
        for piece in pieces {
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(indent)),
                Span::styled(piece, style),
            ]));
        }
    }
    lines
}

pub fn render(frame: &mut Frame, app: &App) {
    let areas = layout(frame.area());
    if let Some(area) = areas.conversations {
        conversations(frame, app, area);
    }
    messages(frame, app, areas.messages);
    if let Some(area) = areas.users {
        users(frame, app, area);
    }
    status(frame, app, areas.status);
    input(frame, app, areas.input);
    if let Some(help) = &app.help {
        help_overlay(frame, help, app.help_top, frame.area());
    }
}

fn conversations(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered().title(" conversations ");
    let inner = block.inner(area);
    let width = inner.width as usize;
    let rows: Vec<Line> = app
        .conversations
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let key = if i < 9 {
                format!("{} ", i + 1)
            } else {
                "  ".to_owned()
            };
            let unread = match (c.unread, c.mentions) {
                (0, _) => String::new(),
                (n, 0) => format!(" {}", n.min(999)),
                (n, m) => format!(" {}/@{}", n.min(999), m.min(99)),
            };
            let room = width.saturating_sub(key.len() + unread.len());
            let title = text::ellipsize(&c.title, room);
            let pad = " ".repeat(room.saturating_sub(text::width(&title)));
            let mut style = Style::new();
            if c.unread > 0 {
                style = style.add_modifier(Modifier::BOLD);
            }
            if i == app.open {
                style = style.add_modifier(Modifier::REVERSED);
            }
            let title_style = match &c.id {
                ConversationId::Everyone => style,
                ConversationId::Direct(_) | ConversationId::Room(_) => {
                    style.fg(name_colour(&c.title))
                }
            };
            Line::from(vec![
                Span::styled(key, style),
                Span::styled(title, title_style),
                Span::styled(pad, style),
                Span::styled(
                    unread,
                    if c.mentions > 0 {
                        style.fg(Color::Magenta).add_modifier(Modifier::BOLD)
                    } else {
                        style.fg(Color::Yellow)
                    },
                ),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(rows).block(block), area);
}

fn messages(frame: &mut Frame, app: &App, area: Rect) {
    let conversation = app.current();
    let mut title = match &conversation.id {
        ConversationId::Everyone => " everyone ".to_owned(),
        ConversationId::Direct(_) => match app
            .users
            .iter()
            .find(|u| same_user(&u.name, &conversation.title))
            .filter(|u| !u.away.is_empty())
        {
            Some(user) => format!(
                " {} (direct, away: {}) ",
                conversation.title,
                render::sanitize(&user.away)
            ),
            None => format!(" {} (direct) ", conversation.title),
        },
        ConversationId::Room(_) => room_title(conversation),
    };
    let inner = inner(area);
    let lines = wrapped_lines(
        conversation,
        &app.me,
        app.clock,
        inner.width as usize,
        app.smart_filter,
    );
    let height = inner.height as usize;
    let scroll = conversation.scroll.min(lines.len().saturating_sub(height));
    if scroll > 0 {
        title.push_str(&format!("[scrolled up {scroll} lines; PageDown] "));
    }
    let end = lines.len() - scroll;
    let start = end.saturating_sub(height);
    let visible: Vec<Line> = lines[start..end].to_vec();
    let block = Block::bordered().title(text::ellipsize(&title, inner.width as usize));
    frame.render_widget(Paragraph::new(visible).block(block), area);
}

/// A room's header: its name, mode when not open, member count and topic.
fn room_title(conversation: &Conversation) -> String {
    let Some(header) = &conversation.room else {
        return format!(" {} ", conversation.title);
    };
    let mut title = format!(" {}", conversation.title);
    if header.mode != RoomMode::NEW {
        title.push_str(&format!(" [{}]", header.mode));
    }
    let plural = if header.members == 1 { "" } else { "s" };
    title.push_str(&format!(" ({} member{plural}", header.members));
    if header.role != RoomRole::Member && header.role != RoomRole::None {
        title.push_str(&format!(", you are {}", header.role.name()));
    }
    title.push(')');
    if !header.topic.is_empty() {
        title.push_str(&format!(": {}", header.topic));
    }
    title.push(' ');
    title
}

/// The help, over the conversation, from line `top` (kept so that the
/// last page stays full): arrows and pages scroll it, any other key
/// closes it.
fn help_overlay(frame: &mut Frame, lines: &[String], top: usize, area: Rect) {
    let width = lines
        .iter()
        .map(|l| text::width(l))
        .max()
        .unwrap_or(0)
        .saturating_add(4)
        .min(area.width as usize) as u16;
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let inner_width = width.saturating_sub(2) as usize;
    let visible = height.saturating_sub(2) as usize;
    let top = top.min(lines.len().saturating_sub(visible));
    let rows: Vec<Line> = lines
        .iter()
        .skip(top)
        .take(visible)
        .map(|l| Line::raw(text::ellipsize(l, inner_width)))
        .collect();
    let title = if visible < lines.len() {
        format!(
            " help {}-{} of {}: arrows scroll, any other key closes ",
            top + 1,
            top + rows.len(),
            lines.len()
        )
    } else {
        " help: any key closes ".to_owned()
    };
    let block = Block::bordered().title(text::ellipsize(&title, inner_width));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(rows).block(block), popup);
}

fn users(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered().title(format!(" online {} ", app.users.len()));
    let inner = block.inner(area);
    let width = inner.width as usize;
    let height = inner.height as usize;
    let mut rows: Vec<Line> = Vec::new();
    for (i, user) in app.users.iter().enumerate() {
        if rows.len() + 1 == height && i + 1 < app.users.len() {
            rows.push(Line::styled(
                format!("… {} more", app.users.len() - i),
                Style::new().fg(Color::DarkGray),
            ));
            break;
        }
        let marker = if user.role == Role::Admin { "@" } else { " " };
        let muted = user.muted.at(app.now) != MuteState::NotMuted;
        let suffix = match (muted, user.away.is_empty()) {
            (true, _) => " muted",
            (false, false) => " away",
            (false, true) => "",
        };
        let name = text::ellipsize(
            &render::sanitize(&user.name),
            width.saturating_sub(1 + suffix.len()),
        );
        let mut style = Style::new().fg(name_colour(&user.name));
        if same_user(&user.name, &app.me) {
            style = style.add_modifier(Modifier::BOLD);
        }
        rows.push(Line::from(vec![
            Span::styled(marker, Style::new().fg(Color::Yellow)),
            Span::styled(name, style),
            Span::styled(suffix, Style::new().fg(Color::Red)),
        ]));
    }
    frame.render_widget(Paragraph::new(rows).block(block), area);
}

fn status(frame: &mut Frame, app: &App, area: Rect) {
    let retry_secs = |at: &chinwag_client::Timestamp| at.0.saturating_sub(app.now.0).div_ceil(1000);
    let link = match &app.link {
        Link::Online => "online".to_owned(),
        Link::Reconnecting {
            attempt,
            retry_at,
            why,
        } => match why {
            None => format!("offline: reconnecting in {}s", retry_secs(retry_at)),
            Some(why) => format!(
                "offline: attempt {attempt} in {}s (last: {why})",
                retry_secs(retry_at)
            ),
        },
        Link::Ended(why) => format!("disconnected: {why}"),
    };
    let mut parts = vec![app.server.clone(), app.me.clone(), link];
    if app.is_admin() {
        parts.push("admin".to_owned());
    }
    match app.my_mute() {
        MuteState::NotMuted => {}
        MuteState::UntilLifted => parts.push("muted".to_owned()),
        MuteState::Until(end) => parts.push(format!(
            "muted {}",
            render::duration(std::time::Duration::from_millis(
                end.0.saturating_sub(app.now.0) + 999
            ))
        )),
    }
    let unread: usize = app.conversations.iter().map(|c| c.unread).sum();
    let away: usize = app.conversations.iter().map(|c| c.unread_away).sum();
    let mentions: usize = app.conversations.iter().map(|c| c.mentions).sum();
    match (unread, away) {
        (0, _) => {}
        (n, 0) => parts.push(format!("{n} unread")),
        (n, away) => parts.push(format!("{n} unread, {away} sent while you were away")),
    }
    if mentions > 0 {
        parts.push(format!("{mentions} for you"));
    }
    let line = format!(" {}", parts.join(" | "));
    let style = match app.link {
        Link::Online => Style::new().bg(Color::Blue).fg(Color::White),
        _ => Style::new().bg(Color::Red).fg(Color::White),
    };
    let line = text::ellipsize(&render::sanitize(&line), area.width as usize);
    frame.render_widget(Paragraph::new(line).style(style), area);
}

fn input(frame: &mut Frame, app: &App, area: Rect) {
    if let Some(prompt) = &app.prompt {
        // Nothing of a password is drawn, not even its length.
        let question = format!("{} (hidden; Enter, or Esc to cancel): ", prompt.question());
        let question = text::ellipsize(&question, area.width as usize);
        let cursor_x = area.x + text::width(&question) as u16;
        frame.render_widget(
            Paragraph::new(question).style(Style::new().fg(Color::Yellow)),
            area,
        );
        frame.set_cursor_position((cursor_x.min(area.right().saturating_sub(1)), area.y));
        return;
    }
    let prefix = format!("[{}] ", app.current().title);
    let prefix = text::ellipsize(&prefix, (area.width as usize) / 3);
    let room = (area.width as usize).saturating_sub(text::width(&prefix) + 1);
    // Keep the cursor in view: show the end of what is before it.
    let before = text::fit_end(app.input.before_cursor(), room);
    let after = &app.input.text()[app.input.before_cursor().len()..];
    let after = text::fit(after, room - text::width(before));
    let cursor_x = area.x + (text::width(&prefix) + text::width(before)) as u16;
    let line = Line::from(vec![
        Span::styled(prefix, Style::new().fg(Color::DarkGray)),
        Span::raw(format!("{before}{after}")),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    frame.set_cursor_position((cursor_x, area.y));
}
