//! The input line: editing, the history of submitted lines, and Tab
//! completion. The cursor moves by grapheme, so a wide character or an
//! accented letter is one step.

use unicode_segmentation::UnicodeSegmentation;

/// How many submitted lines Up can bring back.
const HISTORY: usize = 500;

#[derive(Debug, Default)]
pub struct Input {
    text: String,
    /// Byte offset of the cursor, always on a grapheme boundary.
    cursor: usize,
    history: Vec<String>,
    /// Which history line is shown, while browsing it.
    browsing: Option<usize>,
    /// What was typed before browsing started, restored past the newest.
    draft: String,
    completion: Option<Completion>,
}

/// A Tab completion in progress: Tab again replaces the inserted candidate
/// with the next one.
#[derive(Debug)]
struct Completion {
    /// Where the completed word starts.
    start: usize,
    candidates: Vec<String>,
    index: usize,
}

impl Input {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text before the cursor (to place the cursor on screen).
    pub fn before_cursor(&self) -> &str {
        &self.text[..self.cursor]
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn insert(&mut self, text: &str) {
        self.edited();
        self.text.insert_str(self.cursor, text);
        self.cursor += text.len();
    }

    pub fn backspace(&mut self) {
        self.edited();
        if let Some(start) = self.previous_boundary() {
            self.text.replace_range(start..self.cursor, "");
            self.cursor = start;
        }
    }

    pub fn delete(&mut self) {
        self.edited();
        if let Some(end) = self.next_boundary() {
            self.text.replace_range(self.cursor..end, "");
        }
    }

    pub fn left(&mut self) {
        self.completion = None;
        if let Some(at) = self.previous_boundary() {
            self.cursor = at;
        }
    }

    pub fn right(&mut self) {
        self.completion = None;
        if let Some(at) = self.next_boundary() {
            self.cursor = at;
        }
    }

    pub fn home(&mut self) {
        self.completion = None;
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.completion = None;
        self.cursor = self.text.len();
    }

    /// Ctrl-U: deletes everything before the cursor.
    pub fn delete_to_start(&mut self) {
        self.edited();
        self.text.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    /// Ctrl-K: deletes everything after the cursor.
    pub fn delete_to_end(&mut self) {
        self.edited();
        self.text.truncate(self.cursor);
    }

    /// Ctrl-W: deletes the word before the cursor (and the spaces after it).
    pub fn delete_word(&mut self) {
        self.edited();
        let before = self.text[..self.cursor].trim_end();
        let start = before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Takes the line out without remembering it (a password).
    pub fn take(&mut self) -> String {
        self.completion = None;
        self.browsing = None;
        self.draft.clear();
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    /// Adds a line to the history Up brings back.
    pub fn remember(&mut self, line: &str) {
        if !line.trim().is_empty() && self.history.last().map(String::as_str) != Some(line) {
            self.history.push(line.to_owned());
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
    }

    /// Whether Up would bring `line` back (for tests of what is kept).
    #[cfg(test)]
    pub fn remembers(&self, needle: &str) -> bool {
        self.history.iter().any(|l| l.contains(needle))
    }

    /// Up: the previous submitted line.
    pub fn history_back(&mut self) {
        let at = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = std::mem::take(&mut self.text);
                self.history.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        self.browsing = Some(at);
        self.show(self.history[at].clone());
    }

    /// Down: the next submitted line, then what was being typed.
    pub fn history_forward(&mut self) {
        let Some(at) = self.browsing else { return };
        if at + 1 < self.history.len() {
            self.browsing = Some(at + 1);
            self.show(self.history[at + 1].clone());
        } else {
            self.browsing = None;
            let draft = std::mem::take(&mut self.draft);
            self.show(draft);
        }
    }

    /// Tab: completes the word before the cursor. The first word of a line
    /// that starts with `/` is completed from `commands`, any other word
    /// from `names`. Each further Tab offers the next match.
    pub fn complete(&mut self, commands: &[&str], names: &[String]) {
        if let Some(c) = &mut self.completion {
            c.index = (c.index + 1) % c.candidates.len();
            let (start, replacement) = (c.start, c.candidates[c.index].clone());
            self.replace_word(start, &replacement);
            return;
        }
        let before = &self.text[..self.cursor];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
        let word = &before[start..];
        let candidates: Vec<String> = if start == 0 && word.starts_with('/') {
            let prefix = word[1..].to_lowercase();
            commands
                .iter()
                .filter(|c| c.starts_with(&prefix))
                .map(|c| format!("/{c} "))
                .collect()
        } else if word.is_empty() {
            Vec::new()
        } else {
            let prefix = word.to_lowercase();
            let mut matches: Vec<String> = names
                .iter()
                .filter(|n| n.to_lowercase().starts_with(&prefix))
                .map(|n| format!("{n} "))
                .collect();
            matches.sort_by_key(|n| n.to_lowercase());
            matches.dedup_by_key(|n| n.to_lowercase());
            matches
        };
        if candidates.is_empty() {
            return;
        }
        self.replace_word(start, &candidates[0]);
        self.completion = Some(Completion {
            start,
            candidates,
            index: 0,
        });
    }

    /// Replaces the text from `start` to the cursor.
    fn replace_word(&mut self, start: usize, with: &str) {
        self.text.replace_range(start..self.cursor, with);
        self.cursor = start + with.len();
    }

    fn show(&mut self, text: String) {
        self.completion = None;
        self.text = text;
        self.cursor = self.text.len();
    }

    /// Any edit ends a completion and history browsing.
    fn edited(&mut self) {
        self.completion = None;
        self.browsing = None;
    }

    fn previous_boundary(&self) -> Option<usize> {
        self.text[..self.cursor]
            .grapheme_indices(true)
            .next_back()
            .map(|(i, _)| i)
    }

    fn next_boundary(&self) -> Option<usize> {
        self.text[self.cursor..]
            .graphemes(true)
            .next()
            .map(|g| self.cursor + g.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> Input {
        let mut input = Input::default();
        input.insert(text);
        input
    }

    #[test]
    fn editing_moves_by_grapheme() {
        let mut input = typed("a你e\u{301}");
        input.backspace();
        assert_eq!(input.text(), "a你");
        input.left();
        assert_eq!(input.before_cursor(), "a");
        input.insert("b");
        assert_eq!(input.text(), "ab你");
        input.delete();
        assert_eq!(input.text(), "ab");
        input.home();
        input.delete();
        assert_eq!(input.text(), "b");
    }

    #[test]
    fn line_deletions() {
        let mut input = typed("/msg bob hello there");
        input.delete_word();
        assert_eq!(input.text(), "/msg bob hello ");
        input.left();
        input.left();
        input.delete_to_end();
        assert_eq!(input.text(), "/msg bob hell");
        input.delete_to_start();
        assert_eq!(input.text(), "");
    }

    #[test]
    fn history_goes_back_and_returns_to_the_draft() {
        let mut input = Input::default();
        for line in ["one", "two", "two"] {
            input.insert(line);
            assert_eq!(input.take(), line);
            input.remember(line);
        }
        input.insert("dra");
        input.history_back();
        assert_eq!(input.text(), "two");
        input.history_back();
        assert_eq!(input.text(), "one");
        input.history_back();
        assert_eq!(input.text(), "one");
        input.history_forward();
        assert_eq!(input.text(), "two");
        input.history_forward();
        assert_eq!(input.text(), "dra");
    }

    #[test]
    fn tab_completes_commands_then_names_and_cycles() {
        let names = vec!["bob".to_owned(), "Bea".to_owned(), "alice".to_owned()];
        let commands = ["msg", "mute", "users"];
        let mut input = typed("/m");
        input.complete(&commands, &names);
        assert_eq!(input.text(), "/msg ");
        input.complete(&commands, &names);
        assert_eq!(input.text(), "/mute ");
        input.insert("b");
        input.complete(&commands, &names);
        assert_eq!(input.text(), "/mute Bea ");
        input.complete(&commands, &names);
        assert_eq!(input.text(), "/mute bob ");
        input.complete(&commands, &names);
        assert_eq!(input.text(), "/mute Bea ");

        let mut input = typed("hi AL");
        input.complete(&commands, &names);
        assert_eq!(input.text(), "hi alice ");
        let mut input = typed("zz");
        input.complete(&commands, &names);
        assert_eq!(input.text(), "zz");
    }
}
