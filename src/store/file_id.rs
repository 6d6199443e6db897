//! Which file a path names, to notice a file replaced under a name, or two names of one
//! file (a symbolic or hard link).

use std::path::Path;

/// Which file a path names: device and inode where the platform has them (elsewhere every
/// existing file compares equal, and only a deleted one is noticed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId(u64, u64);

impl FileId {
    pub(crate) fn of(path: &Path) -> std::io::Result<FileId> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Ok(FileId(meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Ok(FileId(0, 0))
        }
    }
}

/// Whether `a` and `b` both exist and are one file, however named (links included).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        matches!((FileId::of(a), FileId::of(b)), (Ok(x), Ok(y)) if x == y)
    }
    #[cfg(not(unix))]
    {
        std::fs::canonicalize(a).is_ok_and(|a| std::fs::canonicalize(b).is_ok_and(|b| a == b))
    }
}

/// Why the system refused to write a file or in a directory, in words after its name, when
/// that was the refusal (not a missing file, a full disk, …).
pub(crate) fn write_refused(e: &std::io::Error) -> Option<&'static str> {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => Some("is not writable by this user"),
        std::io::ErrorKind::ReadOnlyFilesystem => Some("is on a read-only file system"),
        _ => None,
    }
}
