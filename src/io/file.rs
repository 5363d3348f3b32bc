//! Errors of reading and writing files, and the atomic write.

use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What is wrong with a file's contents: the message says where in the file, and what was
/// expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    message: String,
}

impl FormatError {
    pub(super) fn new(message: impl Into<String>) -> Self {
        FormatError {
            message: message.into(),
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormatError {}

/// Why a file could not be read, understood, or written.
#[derive(Debug)]
pub enum FileError {
    /// The operating system refused (missing file, no permission, full disk, …).
    Io {
        /// The file.
        path: PathBuf,
        /// Whether it was being written (else read).
        writing: bool,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file was read, but its contents are not what was expected.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where in the file.
        problem: FormatError,
    },
}

impl FileError {
    pub(super) fn read(path: &Path, source: std::io::Error) -> Self {
        FileError::Io {
            path: path.to_path_buf(),
            writing: false,
            source,
        }
    }

    pub(super) fn write(path: &Path, source: std::io::Error) -> Self {
        FileError::Io {
            path: path.to_path_buf(),
            writing: true,
            source,
        }
    }

    pub(super) fn format(path: &Path) -> impl FnOnce(FormatError) -> Self + '_ {
        move |problem| FileError::Format {
            path: path.to_path_buf(),
            problem,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io {
                path,
                writing,
                source,
            } => {
                let verb = if *writing { "write" } else { "read" };
                write!(f, "cannot {verb} {}: {source}", path.display())
            }
            FileError::Format { path, problem } => write!(f, "{}: {problem}", path.display()),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io { source, .. } => Some(source),
            FileError::Format { problem, .. } => Some(problem),
        }
    }
}

// ---- files ---------------------------------------------------------------------------------

/// Writes `bytes` to `path` atomically: into a new temporary file in the same directory
/// (`.{name}.tmp-{pid}-{n}`), flushed to disk, then renamed over `path`. A reader sees the old
/// file or the new one, never a part; on error the temporary file is removed.
///
/// # Errors
/// [`FileError::Io`] if the directory cannot be written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        FileError::write(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        )
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}-{n}", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = File::create_new(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&temp, path));
    if let Err(source) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(FileError::write(path, source));
    }
    Ok(())
}

/// Reads a whole file (one allocation of the file's size).
pub(super) fn read_file(path: &Path) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|e| FileError::read(path, e))
}
