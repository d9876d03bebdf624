//! Catching up after NOTICE CatchUp: a slow reader becomes a late reader.
//!
//! When the server finds this connection too slow it drops the messages it
//! had queued for it, sends NOTICE CatchUp naming a resume point, and sends
//! no more messages until the client reads history with `HISTORY @me`
//! (protocol.md, section 7.10). This module is the client's side of that,
//! free of I/O so it can be tested alone; the connection task sends the
//! requests it asks for and delivers the events it returns.
//!
//! - It pages forward through `@me` from the resume point, 500 at a time,
//!   until a page comes back short, and hands those messages on in id
//!   order as ordinary messages.
//! - Live messages that arrive meanwhile (the first `@me` request resumes
//!   live delivery) are held back: those a page brings anyway are
//!   dropped, the rest are delivered after the last page (and the
//!   CatchUp notice that marks its end), in id order.
//! - Any message whose id lies in a range read from history is a
//!   duplicate from then on and is dropped; so every message is delivered
//!   exactly once.
//!
//! Ids are assigned in commit order by one writer, so a history page that
//! reaches id `m` holds every message of the reader's conversations up to
//! `m`: ranges read from history have no holes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chinwag_proto::server::{Message, Notice};

/// The most messages one page asks for (the server's maximum).
pub const PAGE: u16 = 500;
/// The most live messages held back while paging; beyond that they are
/// dropped and read from history instead (one more page).
const MAX_HELD: usize = 4096;
/// How many ranges read from history are remembered for de-duplication.
const MAX_RANGES: usize = 32;
/// How many ids of messages delivered live are remembered: a message
/// delivered just before a CatchUp may have an id above its resume point
/// (messages committed together can reach a reader in any order), and
/// then comes again in the first page.
const MAX_RECENT: usize = 1024;

/// What the connection should do next.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Messages (and finally the CatchUp notice) to deliver, in order.
    pub deliver: Vec<Deliver>,
    /// Ask for the next page: `HISTORY @me after` this id.
    pub fetch_after: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Deliver {
    Message(Message),
    /// The catch-up is over; its text says how many messages history gave.
    Done(Notice),
}

#[derive(Debug, Default)]
pub struct CatchUp {
    active: Option<Active>,
    /// Id ranges `(after, up_to]` delivered from history.
    ranges: VecDeque<(u64, u64)>,
    /// The newest ids delivered live.
    recent: BTreeSet<u64>,
    /// Messages delivered from history, in total.
    pub total: u64,
}

#[derive(Debug)]
struct Active {
    /// The CatchUp notice, handed on once the catch-up is over.
    notice: Notice,
    /// The next page starts after this id.
    cursor: u64,
    /// Live messages above the cursor, held back.
    held: BTreeMap<u64, Message>,
    /// Live messages were dropped for want of room: read one more page.
    dropped_held: bool,
    /// A later notice named an earlier resume point: read from there.
    rewind: Option<u64>,
    /// Messages delivered from history in this catch-up.
    read: u64,
}

impl CatchUp {
    /// Whether a catch-up is under way.
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// NOTICE CatchUp arrived.
    pub fn on_notice(&mut self, notice: Notice) -> Step {
        let resume = notice.until;
        match &mut self.active {
            Some(active) => {
                // It fell behind again while catching up: once the page
                // in flight is in, read again from the lower point (what
                // was read already is skipped as a duplicate).
                if resume < active.cursor {
                    active.rewind = Some(active.rewind.map_or(resume, |r| r.min(resume)));
                }
                Step::default()
            }
            None => {
                self.active = Some(Active {
                    notice,
                    cursor: resume,
                    held: BTreeMap::new(),
                    dropped_held: false,
                    rewind: None,
                    read: 0,
                });
                Step {
                    deliver: Vec::new(),
                    fetch_after: Some(resume),
                }
            }
        }
    }

    /// A live message arrived: what to deliver now.
    pub fn on_live(&mut self, message: Message) -> Option<Message> {
        // A message of tags alone is in no history and has an id of its
        // own kind (protocol.md 2.5): shown as it comes, and never a
        // cursor.
        if message.id.is_ephemeral() {
            return Some(message);
        }
        let id = message.id.0;
        if self.read_from_history(id) {
            return None;
        }
        match &mut self.active {
            Some(active) if id > active.cursor => {
                if active.held.len() < MAX_HELD {
                    active.held.insert(id, message);
                } else {
                    active.dropped_held = true;
                }
                None
            }
            // Not catching up, or one the pages have passed without it:
            // a message the server still had for us from before the
            // resume point.
            _ => {
                self.remember(id);
                Some(message)
            }
        }
    }

    /// A page of `HISTORY @me after` arrived (newest first, as sent).
    pub fn on_page(&mut self, after: u64, mut page: Vec<Message>) -> Step {
        let Some(active) = &mut self.active else {
            return Step::default();
        };
        let short = page.len() < usize::from(PAGE);
        page.reverse();
        let mut step = Step::default();
        let up_to = page.last().map_or(after, |m| m.id.0);
        for message in page {
            let id = message.id.0;
            active.held.remove(&id);
            if !in_ranges(&self.ranges, id) && !self.recent.remove(&id) {
                active.read += 1;
                self.total += 1;
                step.deliver.push(Deliver::Message(message));
            }
        }
        active.cursor = active.cursor.max(up_to);
        add_range(&mut self.ranges, after, up_to);
        // Reading again after a rewind: skip what an earlier page read.
        let mut jumped = false;
        if let Some(&(_, end)) = self
            .ranges
            .iter()
            .find(|&&(a, u)| active.cursor > a && active.cursor < u)
        {
            active.cursor = end;
            jumped = true;
        }
        // Held messages the pages have now passed were in them.
        let cursor = active.cursor;
        active.held.retain(|id, _| *id > cursor);
        if let Some(rewind) = active.rewind.take() {
            active.cursor = rewind;
            step.fetch_after = Some(rewind);
            return step;
        }
        if !short || active.dropped_held || jumped {
            active.dropped_held = false;
            step.fetch_after = Some(active.cursor);
            return step;
        }
        let Some(mut active) = self.active.take() else {
            return step;
        };
        // History is done; what was held back is live again.
        active.notice.text = format!("caught up on {} messages", active.read).into();
        step.deliver.push(Deliver::Done(active.notice));
        for (id, message) in active.held {
            self.remember(id);
            step.deliver.push(Deliver::Message(message));
        }
        step
    }

    /// The page could not be read: deliver what was held and give up.
    pub fn on_failure(&mut self, why: &str) -> Step {
        let Some(mut active) = self.active.take() else {
            return Step::default();
        };
        active.notice.text =
            format!("could not read the missed messages from history: {why}").into();
        let mut deliver = vec![Deliver::Done(active.notice)];
        deliver.extend(active.held.into_values().map(Deliver::Message));
        Step {
            deliver,
            fetch_after: None,
        }
    }

    /// Notes a message delivered live.
    fn remember(&mut self, id: u64) {
        self.recent.insert(id);
        if self.recent.len() > MAX_RECENT {
            self.recent.pop_first();
        }
    }

    fn read_from_history(&self, id: u64) -> bool {
        in_ranges(&self.ranges, id)
    }
}

fn in_ranges(ranges: &VecDeque<(u64, u64)>, id: u64) -> bool {
    ranges
        .iter()
        .any(|&(after, up_to)| id > after && id <= up_to)
}

/// Adds `(after, up_to]`, merging it with a range it touches.
fn add_range(ranges: &mut VecDeque<(u64, u64)>, after: u64, up_to: u64) {
    if up_to <= after {
        return;
    }
    if let Some(range) = ranges.iter_mut().find(|(a, u)| after <= *u && up_to >= *a) {
        *range = (range.0.min(after), range.1.max(up_to));
        return;
    }
    if ranges.len() == MAX_RANGES {
        ranges.pop_front();
    }
    ranges.push_back((after, up_to));
}

#[cfg(test)]
mod tests {
    use chinwag_proto::server::{MessageId, Timestamp};
    use chinwag_proto::{MessageKind, NoticeKind};

    use super::*;

    fn msg(id: u64) -> Message {
        Message {
            id: MessageId(id),
            ts: Timestamp(id),
            kind: MessageKind::Broadcast,
            from: "alice".into(),
            to: "".into(),
            text: format!("m{id}").into(),
            ..Default::default()
        }
    }

    fn notice(resume: u64) -> Notice {
        Notice {
            kind: NoticeKind::CatchUp,
            ts: Timestamp(1),
            actor: "".into(),
            subject: "bob".into(),
            until: resume,
            text: "dropped".into(),
        }
    }

    /// A page as the server sends it: newest first.
    fn page(ids: std::ops::RangeInclusive<u64>) -> Vec<Message> {
        ids.rev().map(msg).collect()
    }

    fn ids(step: &Step) -> Vec<u64> {
        step.deliver
            .iter()
            .filter_map(|d| match d {
                Deliver::Message(m) => Some(m.id.0),
                Deliver::Done(_) => None,
            })
            .collect()
    }

    #[test]
    fn pages_then_held_live_messages_then_done_each_once() {
        let mut c = CatchUp::default();
        assert_eq!(c.on_live(msg(3)), Some(msg(3)), "not catching up");
        let step = c.on_notice(notice(10));
        assert_eq!(step.fetch_after, Some(10));
        // Live delivery resumed: some of these the pages bring too.
        for id in [700, 11, 1200, 1201] {
            assert_eq!(c.on_live(msg(id)), None);
        }
        // A late one from before the resume point goes straight through.
        assert_eq!(c.on_live(msg(9)), Some(msg(9)));

        let step = c.on_page(10, page(11..=510));
        assert_eq!(ids(&step), (11..=510).collect::<Vec<_>>());
        assert_eq!(step.fetch_after, Some(510));
        let step = c.on_page(510, page(511..=1000));
        assert_eq!(step.fetch_after, None, "short page: done");
        let mut want: Vec<u64> = (511..=1000).collect();
        want.extend([1200, 1201]);
        assert_eq!(ids(&step), want);
        let Some(Deliver::Done(done)) = step.deliver.get(490) else {
            panic!("{step:?}")
        };
        assert_eq!(&*done.text, "caught up on 990 messages");
        assert_eq!(c.total, 990);
        assert!(!c.is_active());

        // Duplicates of what history gave are dropped from now on.
        assert_eq!(c.on_live(msg(700)), None);
        assert_eq!(c.on_live(msg(1000)), None);
        assert_eq!(c.on_live(msg(1001)), Some(msg(1001)));
    }

    #[test]
    fn a_second_notice_rewinds_and_skips_what_was_read() {
        let mut c = CatchUp::default();
        c.on_notice(notice(100));
        let step = c.on_page(100, page(101..=600));
        assert_eq!(step.fetch_after, Some(600));
        assert_eq!(c.on_notice(notice(50)), Step::default());
        // The page in flight comes in; the next one starts at the
        // rewound point, and skips what was read already.
        let step = c.on_page(600, page(601..=610));
        assert_eq!(ids(&step), (601..=610).collect::<Vec<_>>());
        assert_eq!(step.fetch_after, Some(50));
        let step = c.on_page(50, page(51..=550));
        assert_eq!(ids(&step), (51..=100).collect::<Vec<_>>());
        assert_eq!(step.fetch_after, Some(610));
        let step = c.on_page(610, page(611..=611));
        assert_eq!(ids(&step), [611]);
        assert!(step.fetch_after.is_none());
        assert_eq!(c.total, 500 + 10 + 50 + 1);
    }

    #[test]
    fn too_many_held_messages_cost_one_more_page() {
        let mut c = CatchUp::default();
        c.on_notice(notice(0));
        for id in 1..=(MAX_HELD as u64 + 10) {
            c.on_live(msg(100_000 + id));
        }
        let step = c.on_page(0, page(1..=5));
        assert_eq!(step.fetch_after, Some(5), "held messages were dropped");
        let step = c.on_page(5, page(6..=6));
        assert!(step.fetch_after.is_none());
        assert_eq!(ids(&step).len(), 1 + MAX_HELD);
    }

    #[test]
    fn a_message_delivered_live_just_before_the_notice_is_not_repeated() {
        let mut c = CatchUp::default();
        // 12 reached the reader before 11, which was dropped.
        assert_eq!(c.on_live(msg(12)), Some(msg(12)));
        c.on_notice(notice(10));
        let step = c.on_page(10, page(11..=13));
        assert_eq!(ids(&step), [11, 13]);
    }

    #[test]
    fn a_failed_page_delivers_what_was_held() {
        let mut c = CatchUp::default();
        c.on_notice(notice(0));
        c.on_live(msg(5));
        let step = c.on_failure("storage failure");
        assert_eq!(ids(&step), [5]);
        assert!(!c.is_active());
    }

    #[test]
    fn ranges_merge() {
        let mut r = VecDeque::new();
        add_range(&mut r, 10, 20);
        add_range(&mut r, 20, 30);
        add_range(&mut r, 5, 10);
        assert_eq!(r, [(5, 30)]);
        add_range(&mut r, 40, 40);
        assert_eq!(r, [(5, 30)]);
        assert!(in_ranges(&r, 30) && !in_ranges(&r, 5));
    }
}
