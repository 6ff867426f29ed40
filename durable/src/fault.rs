//! Opening the database file: what redb's recovery did is recorded for the
//! host's log, and for fault tests the file can go through a backend that
//! fails as a full disk or a read-only file system does, or tears a write
//! in half and hangs, as a machine losing power mid-commit does.

use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use redb::backends::FileBackend;
use redb::{Database, StorageBackend};

use crate::{Error, Options};

/// A fault the database file's writes suffer while it is set
/// ([`Options::faults`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Writes go to the file.
    None,
    /// Every write and sync fails with "no space left on device".
    DiskFull,
    /// Every write and sync fails with "read-only file system".
    ReadOnly,
    /// The next write puts half its bytes in the file and never returns:
    /// the process is to be killed then, leaving a torn commit.
    TearAndHang,
}

/// The switch a test flips to inject a [`Fault`].
#[derive(Debug, Default)]
pub struct Faults(AtomicU8);

impl Faults {
    pub fn set(&self, fault: Fault) {
        self.0.store(fault as u8, Ordering::SeqCst);
    }

    fn get(&self) -> Fault {
        match self.0.load(Ordering::SeqCst) {
            1 => Fault::DiskFull,
            2 => Fault::ReadOnly,
            3 => Fault::TearAndHang,
            _ => Fault::None,
        }
    }
}

#[derive(Debug)]
struct Faulty {
    inner: FileBackend,
    faults: Arc<Faults>,
}

impl Faulty {
    fn check(&self) -> std::io::Result<()> {
        match self.faults.get() {
            Fault::DiskFull => Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            )),
            Fault::ReadOnly => Err(std::io::Error::new(
                std::io::ErrorKind::ReadOnlyFilesystem,
                "read-only file system (injected)",
            )),
            Fault::None | Fault::TearAndHang => Ok(()),
        }
    }
}

impl StorageBackend for Faulty {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.inner.read(offset, len)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        self.check()?;
        self.inner.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        if self.faults.get() == Fault::TearAndHang {
            self.inner.write(offset, &data[..data.len() / 2])?;
            self.inner.sync_data(false)?;
            loop {
                std::thread::park();
            }
        }
        self.inner.write(offset, data)
    }
}

/// What redb's recovery did when the file was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Repair {
    /// The file was not closed cleanly, and redb rebuilt its free-page
    /// tables (after every crash; nothing is lost).
    pub unclean: bool,
    /// The latest commit did not verify and was dropped: a commit torn by
    /// the crash. It had not returned, so no write it held was answered.
    pub torn: bool,
}

pub(crate) fn open_db(
    file: &Path,
    opts: &Options,
    verify: bool,
) -> Result<(Database, Repair), Error> {
    let corrupt = |message: String| Error::Corrupt {
        file: file.to_path_buf(),
        message,
    };
    let seen = Arc::new(Mutex::new(Repair::default()));
    let mut builder = Database::builder();
    {
        let seen = seen.clone();
        // redb calls back at progress 0 when it starts a repair, and at 0.3
        // when the primary commit slot failed its checksum and is rolled back.
        builder.set_repair_callback(move |s| {
            let mut r = seen.lock().unwrap_or_else(|e| e.into_inner());
            r.unclean = true;
            if (s.progress() - 0.3).abs() < 1e-9 {
                r.torn = true;
            }
        });
    }
    let db = match &opts.faults {
        None => builder.create(file),
        Some(faults) => {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(file)
                .map_err(|e| Error::Io {
                    path: file.to_path_buf(),
                    message: e.to_string(),
                })?;
            let inner = FileBackend::new(f).map_err(|e| corrupt(e.to_string()))?;
            builder.create_with_backend(Faulty {
                inner,
                faults: faults.clone(),
            })
        }
    };
    let mut db = match db {
        Ok(db) => db,
        // Bytes that are not a database at all: damage, not a failing disk.
        Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))
            if e.kind() == std::io::ErrorKind::InvalidData =>
        {
            return Err(corrupt(format!("not a database redb can read: {e}")))
        }
        Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))) => {
            return Err(Error::Io {
                path: file.to_path_buf(),
                message: e.to_string(),
            })
        }
        Err(e) => return Err(corrupt(e.to_string())),
    };
    if verify {
        match db.check_integrity() {
            Ok(true) => {}
            // redb repaired it from an older commit: entries may be gone
            // that were answered, so refuse rather than lose them silently.
            Ok(false) => {
                let why = "a page checksum did not verify, and redb repaired the file by \
                           dropping what it could not read (redb does not report the page's \
                           offset): answered writes may be gone";
                // The file is rewritten already: without a mark, the next
                // start would open it as if whole.
                let marker = file.with_file_name(crate::CORRUPT_FILE);
                let _ = std::fs::write(&marker, format!("{}: {why}\n", file.display()));
                return Err(corrupt(format!(
                    "{why}; {} now refuses the directory",
                    marker.display()
                )));
            }
            Err(e) => return Err(corrupt(format!("integrity check failed: {e}"))),
        }
    }
    let repair = *seen.lock().unwrap_or_else(|e| e.into_inner());
    Ok((db, repair))
}
