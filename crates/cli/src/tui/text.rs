//! Measuring, wrapping and cutting text by terminal columns, not bytes or
//! chars: a Chinese character or most emoji take two columns, a combining
//! accent none. Widths are measured per grapheme cluster with the same
//! rules ratatui uses when it draws, so what is wrapped here fits exactly.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// The columns `text` takes on a terminal.
pub fn width(text: &str) -> usize {
    text.graphemes(true).map(UnicodeWidthStr::width).sum()
}

/// The longest start of `text` that fits in `columns`, never cutting a
/// grapheme (a wide character that would straddle the edge is left out).
pub fn fit(text: &str, columns: usize) -> &str {
    let mut used = 0;
    for (at, grapheme) in text.grapheme_indices(true) {
        used += grapheme.width();
        if used > columns {
            return &text[..at];
        }
    }
    text
}

/// The longest end of `text` that fits in `columns`.
pub fn fit_end(text: &str, columns: usize) -> &str {
    let mut used = 0;
    for (at, grapheme) in text.grapheme_indices(true).rev() {
        used += grapheme.width();
        if used > columns {
            return &text[at + grapheme.len()..];
        }
    }
    text
}

/// `text` cut to `columns`, with `…` at the end when something was cut.
pub fn ellipsize(text: &str, columns: usize) -> String {
    if width(text) <= columns {
        return text.to_owned();
    }
    if columns == 0 {
        return String::new();
    }
    format!("{}…", fit(text, columns - 1))
}

/// Splits `text` into lines: the first at most `first` columns wide, the
/// others at most `rest`. Lines break after whitespace where a word fits;
/// a word longer than a line, and text without spaces such as Chinese or
/// Japanese, breaks between graphemes. Whitespace at a break is dropped.
/// Always returns at least one line.
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    let limit = |lines: &Vec<String>| if lines.is_empty() { first } else { rest }.max(1);
    for word in words(text) {
        let word_width = width(word);
        if used + word_width <= limit(&lines) {
            line.push_str(word);
            used += word_width;
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line).trim_end().to_owned());
            used = 0;
        }
        if word.trim().is_empty() {
            // The spaces at a break are not carried over.
            continue;
        }
        if word_width <= limit(&lines) {
            line.push_str(word);
            used = word_width;
            continue;
        }
        // The word does not fit on a line of its own: cut it between graphemes.
        for grapheme in word.graphemes(true) {
            let w = grapheme.width();
            if used + w > limit(&lines) && used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push_str(grapheme);
            used += w;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// The pieces a line may break between: Unicode word boundaries, except
/// that narrow punctuation stays with the word before it (`lost);` is one
/// piece), while wide characters (Chinese, Japanese) stand alone, as a line
/// may break between any two of them.
fn words(text: &str) -> Vec<&str> {
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    for (start, piece) in text.split_word_bound_indices() {
        let end = start + piece.len();
        if let Some(last) = pieces.last_mut() {
            let previous = &text[last.0..last.1];
            if joins(previous, piece) {
                last.1 = end;
                continue;
            }
        }
        pieces.push((start, end));
    }
    pieces.into_iter().map(|(s, e)| &text[s..e]).collect()
}

fn joins(previous: &str, next: &str) -> bool {
    let narrow = |c: Option<char>| {
        c.is_some_and(|c| {
            !c.is_whitespace() && unicode_width::UnicodeWidthChar::width(c) == Some(1)
        })
    };
    narrow(previous.chars().next_back()) && narrow(next.chars().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_count_columns() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("你好"), 4);
        assert_eq!(width("こんにちは"), 10);
        assert_eq!(width("👍"), 2);
        assert_eq!(width("e\u{301}"), 1);
    }

    #[test]
    fn latin_text_breaks_between_words() {
        assert_eq!(
            wrap("the quick brown fox jumps", 10, 10),
            ["the quick", "brown fox", "jumps"]
        );
        assert_eq!(wrap("", 10, 10), [""]);
        assert_eq!(wrap("short", 10, 10), ["short"]);
    }

    #[test]
    fn punctuation_stays_with_its_word() {
        assert_eq!(
            wrap("connection lost (closed); retrying", 24, 24),
            ["connection lost", "(closed); retrying"]
        );
        assert_eq!(
            wrap("see https://x.io/a-b", 10, 10),
            ["see", "https://x.", "io/a-b"]
        );
    }

    #[test]
    fn first_line_may_be_narrower() {
        assert_eq!(wrap("aaa bbb ccc", 4, 8), ["aaa", "bbb ccc"]);
    }

    #[test]
    fn long_words_are_cut() {
        assert_eq!(wrap("abcdefghij", 4, 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn chinese_wraps_between_characters_and_never_overflows() {
        let text = "我们的聊天服务器很简单";
        let lines = wrap(text, 7, 7);
        // 7 columns hold three 2-column characters; the fourth would straddle.
        assert_eq!(lines, ["我们的", "聊天服", "务器很", "简单"]);
        assert!(lines.iter().all(|l| width(l) <= 7));
        assert_eq!(lines.concat(), text);
    }

    #[test]
    fn mixed_scripts_and_emoji() {
        let text = "hi 你好 👍👍 こんにちは world";
        for columns in 2..20 {
            let lines = wrap(text, columns, columns);
            assert!(
                lines.iter().all(|l| width(l) <= columns),
                "{columns}: {lines:?}"
            );
            let joined: String = lines.concat().split_whitespace().collect();
            let want: String = text.split_whitespace().collect();
            assert_eq!(joined, want, "nothing lost at {columns} columns");
        }
    }

    #[test]
    fn cutting_respects_wide_characters() {
        assert_eq!(fit("你好吗", 3), "你");
        assert_eq!(fit("abc", 5), "abc");
        assert_eq!(fit_end("你好吗", 5), "好吗");
        assert_eq!(ellipsize("alexander", 5), "alex…");
        assert_eq!(ellipsize("你好吗", 4), "你…");
        assert_eq!(ellipsize("bob", 5), "bob");
    }
}
