//! The write side of a connection: lines waiting for the socket, the
//! labeled-response groups still being collected, and where in the
//! written bytes the account's offline messages end.

use std::collections::{HashMap, VecDeque};

use bytes::{Buf, BytesMut};
use chinwag_proto::server::MessageId;

/// A client command's label (labeled-response) and the lines that answer
/// it, held until every request of the command is answered.
struct Group {
    label: String,
    /// Requests of the command still unanswered.
    open: usize,
    lines: Vec<String>,
}

/// The id of a [`Group`].
pub type GroupId = u32;

#[derive(Default)]
pub struct Output {
    pub buf: BytesMut,
    /// Bytes written to the socket so far.
    written: u64,
    /// (bytes written once this mark is out, the offline message it
    /// delivers), oldest first.
    marks: VecDeque<(u64, MessageId)>,
    /// Whether the socket stopped in the middle of a line.
    mid_line: bool,
    groups: HashMap<GroupId, Group>,
    next_group: GroupId,
    /// The group lines go to now, if any.
    pub current: Option<GroupId>,
    next_batch: u32,
}

impl Output {
    /// Queues one line (given without CR LF), or adds it to the current
    /// label's group.
    pub fn line(&mut self, line: String) {
        if let Some(group) = self.current.and_then(|id| self.groups.get_mut(&id)) {
            group.lines.push(line);
            return;
        }
        self.raw(&line);
    }

    /// [`Output::line`] for a line in pieces, written straight into the
    /// buffer when no label's group collects it.
    pub fn line_of(&mut self, pieces: &[&str]) {
        if self.current.is_some_and(|id| self.groups.contains_key(&id)) {
            self.line(pieces.concat());
            return;
        }
        for piece in pieces {
            self.buf.extend_from_slice(piece.as_bytes());
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    fn raw(&mut self, line: &str) {
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Opens a group for a labeled command answered by `open` requests (0:
    /// answered on the spot).
    pub fn open_group(&mut self, label: &str) -> GroupId {
        self.next_group = self.next_group.wrapping_add(1);
        let id = self.next_group;
        self.groups.insert(
            id,
            Group {
                label: label.to_owned(),
                open: 0,
                lines: Vec::new(),
            },
        );
        id
    }

    /// One more request answers group `id`.
    pub fn expect(&mut self, id: GroupId) {
        if let Some(group) = self.groups.get_mut(&id) {
            group.open += 1;
        }
    }

    /// One request of group `id` is answered; once none is left (and the
    /// command handed out all of its requests: `settled`), the group goes
    /// out: one line with the label, or a labeled-response batch, or an
    /// ACK when nothing answered it.
    pub fn answered(&mut self, id: GroupId, server: &str) {
        if let Some(group) = self.groups.get_mut(&id) {
            group.open = group.open.saturating_sub(1);
        }
        self.close_if_done(id, server);
    }

    /// Sends group `id` if none of its requests is still open.
    pub fn close_if_done(&mut self, id: GroupId, server: &str) {
        if self.groups.get(&id).is_some_and(|g| g.open > 0) {
            return;
        }
        let Some(group) = self.groups.remove(&id) else {
            return;
        };
        let mut label = String::from("label=");
        crate::line::escape(&group.label, &mut label);
        match group.lines.len() {
            0 => self.raw(&format!("@{label} :{server} ACK")),
            1 => self.raw(&with_tag(&group.lines[0], &label)),
            _ => {
                self.next_batch += 1;
                let batch = format!("lr{}", self.next_batch);
                self.raw(&format!(
                    "@{label} :{server} BATCH +{batch} labeled-response"
                ));
                for line in &group.lines {
                    self.raw(&with_tag(line, &format!("batch={batch}")));
                }
                self.raw(&format!(":{server} BATCH -{batch}"));
            }
        }
    }

    /// A fresh batch reference.
    pub fn batch_id(&mut self) -> String {
        self.next_batch += 1;
        format!("b{}", self.next_batch)
    }

    /// The socket took the first `n` bytes.
    pub fn advance(&mut self, n: usize) {
        if n > 0 {
            self.mid_line = self.buf[n - 1] != b'\n';
        }
        self.buf.advance(n);
        self.written += n as u64;
    }

    /// The offline messages whose marks the socket has now passed: the
    /// newest of them.
    pub fn passed(&mut self) -> Option<MessageId> {
        let mut newest = None;
        while let Some(&(at, id)) = self.marks.front() {
            if self.written < at {
                break;
            }
            newest = Some(id);
            self.marks.pop_front();
        }
        newest
    }

    pub fn mark(&mut self, id: MessageId) {
        let at = self.written + self.buf.len() as u64;
        self.marks.push_back((at, id));
    }

    /// Drops what is not written yet but the rest of the line the socket
    /// is in the middle of.
    pub fn discard_unwritten(&mut self) {
        let keep = if self.mid_line {
            self.buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.buf.len(), |at| at + 1)
        } else {
            0
        };
        self.buf.truncate(keep);
        let end = self.written + keep as u64;
        self.marks.retain(|&(at, _)| at <= end);
    }
}

/// `line` with one more tag.
fn with_tag(line: &str, tag: &str) -> String {
    match line.strip_prefix('@') {
        Some(tagged) => format!("@{tag};{tagged}"),
        None => format!("@{tag} {line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: &Output) -> String {
        String::from_utf8(out.buf.to_vec()).unwrap()
    }

    #[test]
    fn labels_make_one_line_a_batch_or_an_ack() {
        let mut out = Output::default();
        let id = out.open_group("a;b");
        out.close_if_done(id, "srv");
        assert_eq!(text(&out), "@label=a\\:b :srv ACK\r\n");

        let mut out = Output::default();
        let id = out.open_group("x");
        out.expect(id);
        out.current = Some(id);
        out.line("@time=1 :srv PONG srv :t".into());
        out.current = None;
        out.line(":other PRIVMSG me :unrelated".into());
        out.answered(id, "srv");
        assert_eq!(
            text(&out),
            ":other PRIVMSG me :unrelated\r\n@label=x;time=1 :srv PONG srv :t\r\n"
        );

        let mut out = Output::default();
        let id = out.open_group("y");
        out.current = Some(id);
        out.line(":srv 353 a = #c :a".into());
        out.line(":srv 366 a #c :End".into());
        out.current = None;
        out.close_if_done(id, "srv");
        assert_eq!(
            text(&out),
            "@label=y :srv BATCH +lr1 labeled-response\r\n@batch=lr1 :srv 353 a = #c :a\r\n\
             @batch=lr1 :srv 366 a #c :End\r\n:srv BATCH -lr1\r\n"
        );
    }

    #[test]
    fn a_discard_finishes_the_line_being_written() {
        let mut out = Output::default();
        out.line("first line".into());
        out.line("second".into());
        out.mark(MessageId(3));
        out.advance(3);
        out.discard_unwritten();
        assert_eq!(text(&out), "st line\r\n");
        assert_eq!(out.passed(), None);
    }
}
