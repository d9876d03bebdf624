//! Keys, mouse and paste: what each terminal event does to the [`App`].
//! The bindings are listed in [`crate::tui::command::KEYS`].

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use crate::tui::app::{App, Effect};

/// Lines the mouse wheel scrolls per notch.
const WHEEL_LINES: isize = 3;

pub fn on_event(app: &mut App, event: Event) -> Vec<Effect> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => on_key(app, key),
        Event::Mouse(mouse) => on_mouse(app, mouse),
        Event::Paste(text) => {
            // One line: a pasted newline must not send half a paste.
            let text: String = text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            app.input.insert(&text);
            Vec::new()
        }
        Event::Resize(width, height) => {
            app.resize(width, height);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    // A password prompt has no history to browse and nothing to complete.
    let prompting = app.prompt.is_some();
    if app.help.is_some() && !(ctrl && key.code == KeyCode::Char('c')) {
        // The help overlay scrolls with the arrows and pages; any other
        // key closes it.
        match key.code {
            KeyCode::Up => app.help_top = app.help_top.saturating_sub(1),
            KeyCode::Down => app.help_top += 1,
            KeyCode::PageUp => app.help_top = app.help_top.saturating_sub(10),
            KeyCode::PageDown => app.help_top += 10,
            _ => {
                app.help = None;
                app.help_top = 0;
            }
        }
        return Vec::new();
    }
    match key.code {
        KeyCode::Char('c') if ctrl => return vec![Effect::Quit],
        KeyCode::Esc => app.cancel_prompt(),
        KeyCode::Up | KeyCode::Down | KeyCode::Tab if prompting => {}
        KeyCode::Char('d') if ctrl && app.input.is_empty() => return vec![Effect::Quit],
        KeyCode::Char('l') if ctrl => return vec![Effect::Redraw],
        KeyCode::Char('n') if ctrl => return app.next_conversation(),
        KeyCode::Char('p') if ctrl => return app.previous_conversation(),
        KeyCode::Down if alt => return app.next_conversation(),
        KeyCode::Up if alt => return app.previous_conversation(),
        KeyCode::Char(digit @ '1'..='9') if alt => {
            return app.switch_to(digit as usize - '1' as usize);
        }
        KeyCode::Char('a') if ctrl => app.input.home(),
        KeyCode::Char('e') if ctrl => app.input.end(),
        KeyCode::Char('u') if ctrl => app.input.delete_to_start(),
        KeyCode::Char('k') if ctrl => app.input.delete_to_end(),
        KeyCode::Char('w') if ctrl => app.input.delete_word(),
        KeyCode::Char(_) if ctrl || alt => {}
        KeyCode::Char(c) => app.input.insert(c.encode_utf8(&mut [0; 4])),
        KeyCode::Enter => return app.submit(),
        KeyCode::Tab => app.complete(),
        KeyCode::Backspace => app.input.backspace(),
        KeyCode::Delete => app.input.delete(),
        KeyCode::Left => app.input.left(),
        KeyCode::Right => app.input.right(),
        KeyCode::Home => app.input.home(),
        KeyCode::End if app.input.is_empty() => app.scroll(isize::MIN),
        KeyCode::End => app.input.end(),
        KeyCode::Up => app.input.history_back(),
        KeyCode::Down => app.input.history_forward(),
        KeyCode::PageUp => return app.page_up(),
        KeyCode::PageDown => app.scroll(-app.page()),
        _ => {}
    }
    Vec::new()
}

fn on_mouse(app: &mut App, mouse: MouseEvent) -> Vec<Effect> {
    let at = Position::new(mouse.column, mouse.row);
    match mouse.kind {
        MouseEventKind::ScrollUp if app.areas.messages.contains(at) => app.scroll(WHEEL_LINES),
        MouseEventKind::ScrollDown if app.areas.messages.contains(at) => app.scroll(-WHEEL_LINES),
        MouseEventKind::Down(MouseButton::Left) => {
            if let Some(row) = row_in(app.areas.conversations, at) {
                return app.switch_to(row);
            } else if let Some(row) = row_in(app.areas.users, at)
                && let Some(user) = app.users.get(row)
            {
                let name = user.name.to_string();
                return app.query(&name);
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Which row inside the border of `pane` a click hit.
fn row_in(pane: Option<Rect>, at: Position) -> Option<usize> {
    let pane = pane?;
    let inside = Rect::new(
        pane.x + 1,
        pane.y + 1,
        pane.width.saturating_sub(2),
        pane.height.saturating_sub(2),
    );
    inside.contains(at).then(|| usize::from(at.y - inside.y))
}
