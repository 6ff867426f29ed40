//! Snapshot files: a snapshot of the store's state, in checksummed chunks,
//! so that a damaged byte is found and named by its offset, and a file cut
//! short is told from a whole one.
//!
//! Layout: a 24-byte header (`MAGIC`, the format version as u32, the
//! snapshot's index as u64, the CRC-32 of those 20 bytes), then chunks of
//! `[length u32][CRC-32 of the data u32][data]`, then an end chunk of length
//! 0 whose CRC field holds the CRC-32 of the body's total length, followed by
//! that length as u64. Integers are little-endian.
//!
//! A file is written under a temporary name, synced, and only then renamed
//! to its final name (and the directory synced), so a final name always
//! holds a whole file.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::Error;

const MAGIC: &[u8; 8] = b"ordusnap";
const FORMAT: u32 = 1;
const HEADER: usize = 24;
/// Big enough that the per-chunk cost is nothing, small enough that an
/// offset names the damage closely.
const CHUNK: usize = 1 << 20;

/// The final name of the snapshot at `index`.
pub(crate) fn name(index: u64) -> String {
    format!("snapshot-{index:020}.snap")
}

pub(crate) fn path(dir: &Path, index: u64) -> PathBuf {
    dir.join(name(index))
}

/// The index in a final snapshot file's name.
pub(crate) fn index_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Whether `name` is a snapshot file being written (or left by a crash
/// while it was).
pub(crate) fn is_temporary(name: &str) -> bool {
    name.starts_with("snapshot-") && name.contains(".snap.tmp")
}

fn header(index: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&FORMAT.to_le_bytes());
    h[12..20].copy_from_slice(&index.to_le_bytes());
    let crc = crc32fast::hash(&h[..20]);
    h[20..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Writes chunks to a file as the snapshot is serialised into it.
struct Chunks {
    file: File,
    buf: Vec<u8>,
    total: u64,
}

impl Chunks {
    fn emit(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let len = self.buf.len() as u32; // at most CHUNK
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&len.to_le_bytes());
        head[4..].copy_from_slice(&crc32fast::hash(&self.buf).to_le_bytes());
        self.file.write_all(&head)?;
        self.file.write_all(&self.buf)?;
        self.total += u64::from(len);
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<File> {
        self.emit()?;
        let total = self.total.to_le_bytes();
        let mut end = [0u8; 16];
        end[4..8].copy_from_slice(&crc32fast::hash(&total).to_le_bytes());
        end[8..].copy_from_slice(&total);
        self.file.write_all(&end)?;
        Ok(self.file)
    }
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.emit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the snapshot at `index` to `tmp` (a new file), with the body
/// `body` writes, and syncs it. On an error the file is removed.
pub(crate) fn write(
    tmp: &Path,
    index: u64,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let written = (|| {
        let mut file = File::options().write(true).create_new(true).open(tmp)?;
        file.write_all(&header(index))?;
        let mut chunks = Chunks {
            file,
            buf: Vec::with_capacity(CHUNK),
            total: 0,
        };
        body(&mut chunks)?;
        chunks.finish()?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
}

/// Renames a written snapshot to its final name and syncs the directory,
/// so that the name survives a crash.
pub(crate) fn publish(tmp: &Path, dir: &Path, index: u64) -> std::io::Result<PathBuf> {
    let to = path(dir, index);
    std::fs::rename(tmp, &to)?;
    sync_dir(dir)?;
    Ok(to)
}

pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads the body of the snapshot file `path`, which must hold the
/// snapshot at `index`; any damage is an [`Error::Corrupt`] naming the
/// file and the byte offset where it is.
pub(crate) fn read(path: &Path, index: u64) -> Result<Vec<u8>, Error> {
    read_at(path, Some(index)).map(|(_, body)| body)
}

/// [`read`] of whatever index the file holds; answers it with the body.
fn read_at(path: &Path, index: Option<u64>) -> Result<(u64, Vec<u8>), Error> {
    let corrupt = |message: String| Error::Corrupt {
        file: path.to_path_buf(),
        message,
    };
    let io = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            corrupt(match index {
                Some(index) => format!(
                    "missing: the log's last compaction refers to the snapshot at index {index}"
                ),
                None => "missing".into(),
            })
        } else {
            io(e)
        }
    })?;
    let len = file.metadata().map_err(io)?.len();
    let mut r = BufReader::with_capacity(CHUNK, file);
    let mut offset = 0u64;
    // Reads exactly `buf.len()` bytes, or names where the file ended.
    let take = |r: &mut BufReader<File>, buf: &mut [u8], offset: &mut u64| {
        r.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                corrupt(format!(
                    "cut short: it ends before byte offset {} ({len} bytes)",
                    *offset + buf.len() as u64
                ))
            } else {
                io(e)
            }
        })?;
        *offset += buf.len() as u64;
        Ok::<(), Error>(())
    };
    let mut h = [0u8; HEADER];
    take(&mut r, &mut h, &mut offset)?;
    if &h[..8] != MAGIC {
        return Err(corrupt(
            "not an ordu snapshot (no magic at byte offset 0)".into(),
        ));
    }
    if h != header(u64::from_le_bytes(h[12..20].try_into().expect("8 bytes"))) {
        return Err(corrupt(
            "the header at byte offset 0 fails its checksum".into(),
        ));
    }
    let format = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
    if format != FORMAT {
        return Err(corrupt(format!(
            "file format {format} is not {FORMAT}, the one this ordu reads"
        )));
    }
    let held = u64::from_le_bytes(h[12..20].try_into().expect("8 bytes"));
    let index = index.unwrap_or(held);
    if held != index {
        return Err(corrupt(format!(
            "holds the snapshot at index {held}, not {index}"
        )));
    }
    // The body is at most the file's size: a bounded allocation.
    let mut body = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    loop {
        let at = offset;
        let mut head = [0u8; 8];
        take(&mut r, &mut head, &mut offset)?;
        let n = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        if n == 0 {
            let mut total = [0u8; 8];
            take(&mut r, &mut total, &mut offset)?;
            if crc32fast::hash(&total) != crc || u64::from_le_bytes(total) != body.len() as u64 {
                return Err(corrupt(format!(
                    "the end chunk at byte offset {at} fails its checksum"
                )));
            }
            if offset != len {
                return Err(corrupt(format!(
                    "{} bytes follow the end chunk at byte offset {at}",
                    len - offset
                )));
            }
            return Ok((held, body));
        }
        if n > CHUNK {
            return Err(corrupt(format!(
                "the chunk at byte offset {at} claims {n} bytes, more than a chunk holds"
            )));
        }
        let start = body.len();
        body.resize(start + n, 0);
        take(&mut r, &mut body[start..], &mut offset)?;
        if crc32fast::hash(&body[start..]) != crc {
            return Err(corrupt(format!(
                "the chunk at byte offset {at} fails its checksum"
            )));
        }
    }
}

/// Snapshot files for other hosts of the log seam (the Raft cluster's
/// state machine): the same checksummed chunks, under a name of theirs.
pub mod snapshot_file {
    use std::path::Path;

    use crate::Error;

    /// Writes `body`, the snapshot at `index`, to `dir/name`: under a
    /// temporary name first, synced, then renamed over the old file, so
    /// that `name` always holds a whole snapshot.
    pub fn save(dir: &Path, name: &str, index: u64, body: &[u8]) -> std::io::Result<()> {
        let tmp = dir.join(format!("{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        super::write(&tmp, index, |w| w.write_all(body))?;
        std::fs::rename(&tmp, dir.join(name))?;
        super::sync_dir(dir)
    }

    /// The body of the snapshot file `path`; damage is an
    /// [`Error::Corrupt`] naming the file and the byte offset.
    pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
        super::read_at(path, None).map(|(_, body)| body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(body: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("snapshot-x.snap.tmp");
        write(&tmp, 7, |w| w.write_all(body)).unwrap();
        let p = publish(&tmp, dir.path(), 7).unwrap();
        (dir, p)
    }

    fn body() -> Vec<u8> {
        (0..(CHUNK * 2 + 100)).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn a_written_snapshot_reads_back() {
        let (_d, p) = written(&body());
        assert_eq!(read(&p, 7).unwrap(), body());
        assert_eq!(index_of(p.file_name().unwrap().to_str().unwrap()), Some(7));
        let (_d, p) = written(b"");
        assert_eq!(read(&p, 7).unwrap(), b"");
    }

    fn err(p: &Path) -> String {
        read(p, 7).unwrap_err().to_string()
    }

    #[test]
    fn damage_is_named_by_its_offset() {
        let (_d, p) = written(&body());
        let good = std::fs::read(&p).unwrap();
        // A byte in the second chunk's data.
        let second = HEADER + 8 + CHUNK;
        let mut bad = good.clone();
        bad[second + 8 + 10] ^= 1;
        std::fs::write(&p, &bad).unwrap();
        let msg = err(&p);
        assert!(
            msg.contains(&format!("chunk at byte offset {second} fails")),
            "{msg}"
        );
        assert!(msg.contains(&p.display().to_string()), "{msg}");

        std::fs::write(&p, &good[..good.len() - 20]).unwrap();
        assert!(err(&p).contains("cut short"), "{}", err(&p));

        let mut bad = good.clone();
        bad[13] ^= 1;
        std::fs::write(&p, &bad).unwrap();
        assert!(err(&p).contains("header at byte offset 0"), "{}", err(&p));

        std::fs::write(&p, &good).unwrap();
        assert!(read(&p, 8).unwrap_err().to_string().contains("not 8"));

        std::fs::remove_file(&p).unwrap();
        assert!(err(&p).contains("missing"), "{}", err(&p));
    }

    #[test]
    fn a_failed_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("snapshot-1.snap.tmp");
        let e = write(&tmp, 1, |w| {
            w.write_all(&[1; 10])?;
            Err(std::io::Error::other("full"))
        });
        assert!(e.is_err());
        assert!(!tmp.exists());
    }
}
