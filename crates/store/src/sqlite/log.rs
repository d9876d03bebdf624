//! The message log: where a message becomes durable before it is
//! acknowledged.
//!
//! A message row in SQLite is cheap to insert but expensive to commit:
//! every commit writes each page it touched to the WAL in full, and the
//! `(conv, id)` index spreads a group's messages over as many leaf pages
//! as it has conversations (measured: about 4 KB written and checksummed
//! per message at 20,000 messages/s over 100 conversations). So a message
//! is first appended here, as one small record (its columns, a length and
//! a CRC-32), and a group of them is made durable with one `write` and
//! one `fdatasync` (with [`Durability::Full`](crate::Durability)); then
//! it is acknowledged. The same rows reach SQLite a moment later, many
//! groups to a commit (see `writer`), off the acknowledgement's path.
//!
//! The log is a directory of segment files, `messages-<first id>.log`. A
//! segment is deleted once SQLite holds every message in it; on open,
//! whatever the log holds that SQLite does not (the server stopped
//! between the two) is inserted before anything else runs. A record cut
//! short by a crash ends the segment: it was never acknowledged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::{NewMessage, NewRoomMessage};

/// The log's directory inside the data directory.
pub const LOG_DIR: &str = "log";
/// A segment this large is closed and a new one started.
const SEGMENT_BYTES: u64 = 16 << 20;
/// Longest record read back; anything longer is damage, not a message.
const MAX_RECORD: usize = 1 << 20;

/// One message as logged: the columns of its row, and the account whose
/// offline queue it also goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub ts: i64,
    pub conv: String,
    pub sender: String,
    pub recipient: String,
    pub text: String,
    pub flags: i64,
    pub queue_for: Option<String>,
}

impl Entry {
    /// A direct message or a broadcast, before it has an id.
    pub fn direct(m: NewMessage) -> Entry {
        Entry {
            id: 0,
            ts: m.ts.0 as i64,
            conv: m.conversation().to_column(),
            recipient: m.recipient().to_owned(),
            sender: m.from.as_str().to_owned(),
            text: m.text,
            flags: if m.notice { crate::FLAG_NOTICE } else { 0 },
            queue_for: m.queue_for.map(|user| user.as_str().to_owned()),
        }
    }

    /// A room message, before it has an id.
    pub fn room(m: NewRoomMessage) -> Entry {
        Entry {
            id: 0,
            ts: m.ts.0 as i64,
            conv: m.conversation().to_column(),
            recipient: m.room.as_str().to_owned(),
            sender: m.from.as_str().to_owned(),
            text: m.text,
            flags: if m.notice { crate::FLAG_NOTICE } else { 0 },
            queue_for: None,
        }
    }

    /// Appends the record: length (u32, of what follows the CRC), CRC-32
    /// of the body, then the body: id, ts, flags (i64 each), and the
    /// strings, each a u32 length and its bytes (`queue_for` as a flag
    /// byte first). Little-endian throughout.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.ts.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        for text in [&self.conv, &self.sender, &self.recipient, &self.text] {
            put_str(out, text);
        }
        match &self.queue_for {
            Some(user) => {
                out.push(1);
                put_str(out, user);
            }
            None => out.push(0),
        }
        let body = &out[start + 8..];
        let len = body.len() as u32;
        let crc = crc32fast::hash(body);
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    /// Reads the record at the start of `bytes`; returns it and its size,
    /// or `None` if what is there is not a whole, intact record.
    pub fn decode(bytes: &[u8]) -> Option<(Entry, usize)> {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
        if len > MAX_RECORD {
            return None;
        }
        let body = bytes.get(8..8 + len)?;
        if crc32fast::hash(body) != crc {
            return None;
        }
        let mut reader = Reader(body);
        let entry = Entry {
            id: reader.i64()?,
            ts: reader.i64()?,
            flags: reader.i64()?,
            conv: reader.string()?,
            sender: reader.string()?,
            recipient: reader.string()?,
            text: reader.string()?,
            queue_for: match reader.byte()? {
                0 => None,
                _ => Some(reader.string()?),
            },
        };
        reader.0.is_empty().then_some((entry, 8 + len))
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<String> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

/// The open log: the segment being written and the closed ones not yet
/// wholly in SQLite.
pub struct Log {
    dir: PathBuf,
    /// Whether each append is synced before it is acknowledged.
    sync: bool,
    current: File,
    current_first: i64,
    current_len: u64,
    /// Closed segments, oldest first: their first id and path.
    closed: Vec<(i64, PathBuf)>,
}

impl Log {
    /// Opens the log in `dir` for messages from `next_id` on, after
    /// [`recover`] read (and SQLite took) what it held: the old segments
    /// are deleted and a new one started.
    pub fn open(dir: &Path, next_id: i64, sync: bool) -> io::Result<Log> {
        for (_, path) in segments(dir)? {
            fs::remove_file(path)?;
        }
        let (current, path) = create_segment(dir, next_id)?;
        sync_dir(dir)?;
        tracing::debug!(path = %path.display(), "message log started");
        Ok(Log {
            dir: dir.to_path_buf(),
            sync,
            current,
            current_first: next_id,
            current_len: 0,
            closed: Vec::new(),
        })
    }

    /// Writes `records` (whole records, the first with id `first`) and,
    /// with full durability, syncs them. On failure the segment is cut
    /// back to where it was, so no half-written record stays before the
    /// next one.
    pub fn append(&mut self, first: i64, records: &[u8]) -> io::Result<()> {
        if self.current_len >= SEGMENT_BYTES {
            self.rotate(first)?;
        }
        let written = self.current.write_all(records).and_then(|()| {
            if self.sync {
                self.current.sync_data()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                self.current_len += records.len() as u64;
                Ok(())
            }
            Err(error) => {
                let _ = self.current.set_len(self.current_len);
                Err(error)
            }
        }
    }

    /// Deletes the closed segments whose every message SQLite holds
    /// (`indexed`: the highest id committed there).
    pub fn forget_up_to(&mut self, indexed: i64) {
        let mut kept = 0;
        while kept < self.closed.len() {
            let last = match self.closed.get(kept + 1) {
                Some((next_first, _)) => next_first - 1,
                None => self.current_first - 1,
            };
            if last > indexed {
                break;
            }
            kept += 1;
        }
        for (_, path) in self.closed.drain(..kept) {
            if let Err(error) = fs::remove_file(&path) {
                tracing::warn!(%error, path = %path.display(), "cannot delete a message log segment");
            }
        }
    }

    fn rotate(&mut self, first: i64) -> io::Result<()> {
        let (file, _) = create_segment(&self.dir, first)?;
        sync_dir(&self.dir)?;
        let old = std::mem::replace(&mut self.current, file);
        drop(old);
        self.closed.push((
            self.current_first,
            segment_path(&self.dir, self.current_first),
        ));
        self.current_first = first;
        self.current_len = 0;
        Ok(())
    }
}

/// Every intact record in the log at `dir`, in id order. A damaged or
/// cut-short record ends its segment (it was never acknowledged).
pub fn recover(dir: &Path) -> io::Result<Vec<Entry>> {
    fs::create_dir_all(dir)?;
    let mut entries = Vec::new();
    for (_, path) in segments(dir)? {
        let mut bytes = Vec::new();
        File::open(&path)?.read_to_end(&mut bytes)?;
        let mut at = 0;
        while let Some((entry, size)) = Entry::decode(&bytes[at..]) {
            entries.push(entry);
            at += size;
        }
        if at < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                kept = at,
                dropped = bytes.len() - at,
                "message log segment ends in a record cut short; the rest was never acknowledged"
            );
        }
    }
    Ok(entries)
}

/// The segment files in `dir`, by first id.
fn segments(dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut found = Vec::new();
    for item in fs::read_dir(dir)? {
        let path = item?.path();
        let first = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix("messages-")?.strip_suffix(".log"))
            .and_then(|id| id.parse::<i64>().ok());
        if let Some(first) = first {
            found.push((first, path));
        }
    }
    found.sort();
    Ok(found)
}

fn segment_path(dir: &Path, first: i64) -> PathBuf {
    dir.join(format!("messages-{first:020}.log"))
}

fn create_segment(dir: &Path, first: i64) -> io::Result<(File, PathBuf)> {
    let path = segment_path(dir, first);
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    Ok((file, path))
}

/// Makes a new segment's directory entry durable, as its contents are.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, text: &str, queue_for: Option<&str>) -> Entry {
        Entry {
            id,
            ts: 1_700_000_000_000 + id,
            conv: "alice bob".into(),
            sender: "Alice".into(),
            recipient: "Bob".into(),
            text: text.into(),
            flags: 1,
            queue_for: queue_for.map(Into::into),
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let mut out = Vec::new();
        let first = entry(7, "hi ünïcode", Some("bob"));
        let second = entry(8, "", None);
        first.encode(&mut out);
        second.encode(&mut out);
        let (read, size) = Entry::decode(&out).unwrap();
        assert_eq!(read, first);
        assert_eq!(Entry::decode(&out[size..]).unwrap().0, second);
    }

    #[test]
    fn a_record_cut_short_or_damaged_is_not_read() {
        let mut out = Vec::new();
        entry(1, "hello", None).encode(&mut out);
        for cut in 0..out.len() {
            assert_eq!(Entry::decode(&out[..cut]), None, "cut at {cut}");
        }
        let last = out.len() - 1;
        out[last] ^= 0x20;
        assert_eq!(Entry::decode(&out), None);
    }

    #[test]
    fn recovery_keeps_whole_records_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), 1, true).unwrap();
        let mut records = Vec::new();
        entry(1, "one", None).encode(&mut records);
        entry(2, "two", Some("bob")).encode(&mut records);
        log.append(1, &records).unwrap();
        // A crash in the middle of the next group's write.
        let mut torn = Vec::new();
        entry(3, "three", None).encode(&mut torn);
        log.current.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(log);
        let entries = recover(dir.path()).unwrap();
        assert_eq!(
            entries,
            vec![entry(1, "one", None), entry(2, "two", Some("bob"))]
        );
        // Opening again starts afresh: SQLite took what recovery read.
        let log = Log::open(dir.path(), 3, true).unwrap();
        drop(log);
        assert_eq!(recover(dir.path()).unwrap(), vec![]);
    }

    #[test]
    fn closed_segments_go_once_sqlite_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), 1, false).unwrap();
        let mut records = Vec::new();
        entry(1, "one", None).encode(&mut records);
        log.append(1, &records).unwrap();
        log.current_len = SEGMENT_BYTES;
        records.clear();
        entry(2, "two", None).encode(&mut records);
        log.append(2, &records).unwrap();
        assert_eq!(segments(dir.path()).unwrap().len(), 2);
        log.forget_up_to(0);
        assert_eq!(segments(dir.path()).unwrap().len(), 2);
        log.forget_up_to(1);
        let left = segments(dir.path()).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, 2);
        assert_eq!(recover(dir.path()).unwrap(), vec![entry(2, "two", None)]);
    }
}
