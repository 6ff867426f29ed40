//! Opening the database file, through a backend that can be made to fail
//! (`Options::fail_writes`) so that tests see what a full disk does.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use redb::backends::FileBackend;
use redb::{Database, StorageBackend};

use crate::{Error, Options};

#[derive(Debug)]
struct Failing {
    inner: FileBackend,
    fail: Arc<AtomicBool>,
}

impl Failing {
    fn check(&self) -> std::io::Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ));
        }
        Ok(())
    }
}

impl StorageBackend for Failing {
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
        self.inner.write(offset, data)
    }
}

pub(crate) fn open_db(file: &Path, opts: &Options) -> Result<Database, Error> {
    let corrupt = |message: String| Error::Corrupt {
        file: file.to_path_buf(),
        message,
    };
    let db = match &opts.fail_writes {
        None => Database::create(file),
        Some(fail) => {
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
            Database::builder().create_with_backend(Failing {
                inner,
                fail: fail.clone(),
            })
        }
    };
    let mut db = match db {
        Ok(db) => db,
        Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))) => {
            return Err(Error::Io {
                path: file.to_path_buf(),
                message: e.to_string(),
            })
        }
        Err(e) => return Err(corrupt(e.to_string())),
    };
    if opts.verify_on_open {
        match db.check_integrity() {
            Ok(true) => {}
            // redb repaired it from an older commit: entries may be gone
            // that were answered, so refuse rather than lose them silently.
            Ok(false) => {
                return Err(corrupt(
                    "a page checksum did not verify (redb could repair the file by \
                     dropping what it could not read; the data directory needs attention)"
                        .into(),
                ))
            }
            Err(e) => return Err(corrupt(format!("integrity check failed: {e}"))),
        }
    }
    Ok(db)
}
