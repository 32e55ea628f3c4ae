//! Exclusive locks on files shared by concurrent runs (stations sharing a
//! serial-number counter or a `--log` file, and the boards of one run):
//! `flock(2)` on Unix, which excludes every other open of the file, in this
//! process or another, and is released by the kernel when the process dies
//! (a crash never leaves a stale lock). Elsewhere, a lock file created
//! exclusively next to the file, removed on release.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// A held lock; released when dropped.
pub struct Lock {
    #[allow(dead_code)]
    file: File,
    #[cfg(not(unix))]
    path: PathBuf,
}

impl Lock {
    /// Wait for and take the exclusive lock on `path` (created empty if
    /// missing; it is never deleted, so every run locks the same file).
    pub fn exclusive(path: &Path) -> io::Result<Lock> {
        Self::take(path.to_path_buf())
    }

    #[cfg(unix)]
    fn take(path: PathBuf) -> io::Result<Lock> {
        use std::os::unix::io::AsRawFd;
        let file = std::fs::OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        loop {
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(Lock { file });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    #[cfg(not(unix))]
    fn take(path: PathBuf) -> io::Result<Lock> {
        let path = path.with_extension("lock-held");
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok(Lock { file, path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(not(unix))]
impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[test]
    fn one_holder_at_a_time_across_threads() {
        let dir = std::env::temp_dir().join(format!("stflash-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.lock");
        let inside = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, inside) = (path.clone(), Arc::clone(&inside));
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _lock = Lock::exclusive(&path).unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
