//! The log file: locks, a line reader with a length limit, and reading the
//! last line from the end.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::AuditError;

/// The longest line a log may hold, newline excluded (16 MiB). A longer line
/// is never a record: [`append`](crate::append) refuses to write one and
/// [`verify`](crate::verify()) reports one without reading it into memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// How far [`last_line`] reads back at a time.
const TAIL_CHUNK: u64 = 1 << 20;

/// An advisory lock on an open file (`flock` on Unix), released on drop.
pub(crate) struct FileLock<'a>(Option<&'a File>);

impl<'a> FileLock<'a> {
    /// Waits for the exclusive lock: for writers and repair.
    pub(crate) fn exclusive(file: &'a File, path: &Path) -> Result<FileLock<'a>, AuditError> {
        file.lock().map_err(AuditError::io(path, "lock"))?;
        Ok(FileLock(Some(file)))
    }

    /// Waits for a shared lock, so that a reader never sees a half-written
    /// line. Where the file system has no locks, reads go on unlocked.
    pub(crate) fn shared(file: &'a File, path: &Path) -> Result<FileLock<'a>, AuditError> {
        match file.lock_shared() {
            Ok(()) => Ok(FileLock(Some(file))),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(FileLock(None)),
            Err(e) => Err(AuditError::io(path, "lock")(e)),
        }
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        if let Some(file) = self.0 {
            // Closing the file releases the lock too; an error here leaves
            // nothing to undo.
            let _ = file.unlock();
        }
    }
}

/// One line of the log.
pub(crate) struct Line {
    /// 1-based.
    pub number: u64,
    /// The byte offset of its first byte.
    pub offset: u64,
    /// The bytes without the newline; `Err(length)` when longer than
    /// [`MAX_LINE_BYTES`] (the bytes were skipped, not kept).
    pub content: Result<Vec<u8>, u64>,
    /// Whether it ends with `\n`.
    pub newline: bool,
    /// Whether it is the last line of the file.
    pub last: bool,
}

/// Reads lines of at most [`MAX_LINE_BYTES`], keeping memory bounded on any
/// input.
pub(crate) struct LineReader<R> {
    inner: BufReader<R>,
    number: u64,
    offset: u64,
}

impl<R: Read> LineReader<R> {
    pub(crate) fn new(inner: R) -> LineReader<R> {
        LineReader {
            inner: BufReader::with_capacity(1 << 16, inner),
            number: 0,
            offset: 0,
        }
    }

    fn fill(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.inner.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        self.inner.fill_buf()
    }

    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line>> {
        let mut content = Vec::new();
        let mut too_long = false;
        let mut total: u64 = 0;
        let mut newline = false;
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                break;
            }
            let (data_len, take) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    newline = true;
                    (i, i + 1)
                }
                None => (buf.len(), buf.len()),
            };
            if !too_long {
                if content.len() + data_len > MAX_LINE_BYTES {
                    too_long = true;
                    content = Vec::new();
                } else {
                    content.extend_from_slice(&buf[..data_len]);
                }
            }
            total += take as u64;
            self.inner.consume(take);
            if newline {
                break;
            }
        }
        if total == 0 {
            return Ok(None);
        }
        let last = !newline || self.fill()?.is_empty();
        self.number += 1;
        let line = Line {
            number: self.number,
            offset: self.offset,
            content: if too_long {
                Err(total - u64::from(newline))
            } else {
                Ok(content)
            },
            newline,
            last,
        };
        self.offset += total;
        Ok(Some(line))
    }
}

/// The file's last line as [`last_line`] finds it.
pub(crate) struct LastLine {
    /// Its offset.
    pub offset: u64,
    /// Its bytes without the newline; `Err(length)` when too long.
    pub content: Result<Vec<u8>, u64>,
    /// Whether the file ends with `\n`.
    pub newline: bool,
}

/// Reads the last line of a file of `len > 0` bytes by scanning back from
/// the end, 1 MiB at a time, for the newline before it: an append reads
/// only the tail, however long the log.
pub(crate) fn last_line(mut file: &File, len: u64) -> io::Result<LastLine> {
    let mut last = [0u8];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    let newline = last[0] == b'\n';
    let end = if newline { len - 1 } else { len };
    let mut offset = 0;
    let mut pos = end;
    let mut chunk = Vec::new();
    while pos > 0 {
        let from = pos.saturating_sub(TAIL_CHUNK);
        chunk.resize((pos - from) as usize, 0);
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            offset = from + i as u64 + 1;
            break;
        }
        if end - from > MAX_LINE_BYTES as u64 {
            // Too long to be a record; where it starts does not matter.
            return Ok(LastLine {
                offset: from,
                content: Err(end - from),
                newline,
            });
        }
        pos = from;
    }
    let line_len = end - offset;
    if line_len > MAX_LINE_BYTES as u64 {
        return Ok(LastLine {
            offset,
            content: Err(line_len),
            newline,
        });
    }
    let mut content = vec![0; line_len as usize];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut content)?;
    Ok(LastLine {
        offset,
        content: Ok(content),
        newline,
    })
}

/// The 1-based number of the line that starts at `offset` (or holds it):
/// one more than the newlines before it. Reads the file up to `offset`;
/// used only to name a damaged line in an error.
pub(crate) fn line_number_at(mut file: &File, offset: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(file.take(offset));
    let mut newlines = 0u64;
    loop {
        let buf = match reader.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => r?,
        };
        if buf.is_empty() {
            break;
        }
        newlines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        let n = buf.len();
        reader.consume(n);
    }
    Ok(newlines + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// (number, offset, content, newline, last)
    type Seen = (u64, u64, Result<Vec<u8>, u64>, bool, bool);

    fn lines(bytes: &[u8]) -> Vec<Seen> {
        let mut reader = LineReader::new(bytes);
        let mut out = vec![];
        while let Some(l) = reader.next_line().unwrap() {
            out.push((l.number, l.offset, l.content, l.newline, l.last));
        }
        out
    }

    #[test]
    fn the_reader_numbers_lines_and_marks_the_last() {
        assert!(lines(b"").is_empty());
        assert_eq!(
            lines(b"ab\n\ncd"),
            vec![
                (1, 0, Ok(b"ab".to_vec()), true, false),
                (2, 3, Ok(vec![]), true, false),
                (3, 4, Ok(b"cd".to_vec()), false, true),
            ]
        );
        assert_eq!(lines(b"x\n"), vec![(1, 0, Ok(b"x".to_vec()), true, true)]);
    }

    #[test]
    fn overlong_lines_are_skipped_not_kept() {
        let mut bytes = vec![b'a'; MAX_LINE_BYTES + 5];
        bytes.extend_from_slice(b"\nok\n");
        let got = lines(&bytes);
        assert_eq!(got[0].2, Err(MAX_LINE_BYTES as u64 + 5));
        assert_eq!(
            got[1],
            (2, MAX_LINE_BYTES as u64 + 6, Ok(b"ok".to_vec()), true, true)
        );
    }

    #[test]
    fn the_last_line_is_found_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let long = "y".repeat(3 * TAIL_CHUNK as usize + 17);
        for (text, offset, content, newline) in [
            ("a\nbc\n".to_string(), 2, "bc".to_string(), true),
            ("a\nbc".to_string(), 2, "bc".to_string(), false),
            ("abc\n".to_string(), 0, "abc".to_string(), true),
            ("\n".to_string(), 0, String::new(), true),
            (format!("a\n{long}\n"), 2, long.clone(), true),
        ] {
            let mut f = File::create(&path).unwrap();
            f.write_all(text.as_bytes()).unwrap();
            let f = File::open(&path).unwrap();
            let last = last_line(&f, text.len() as u64).unwrap();
            assert_eq!(last.offset, offset);
            assert_eq!(last.content, Ok(content.into_bytes()));
            assert_eq!(last.newline, newline);
            assert_eq!(
                line_number_at(&f, offset).unwrap(),
                text[..offset as usize].matches('\n').count() as u64 + 1
            );
        }
    }
}
