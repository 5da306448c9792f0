//! The small files a person names, read whole: the configuration and key
//! files. Only a regular file is read, and only up to a bound: `/dev/zero`
//! would otherwise be read until memory runs out, and a FIFO would hang the
//! command. The file is opened without blocking and checked as opened (not
//! by its name first), so nothing can be swapped in between.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::Path;

/// The largest configuration file read (1 MiB): thousands of profiles.
pub const MAX_CONFIG: u64 = 1 << 20;
/// The largest key file read (64 KiB): an RSA-4096 PEM is about 3 KiB.
pub const MAX_KEY: u64 = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum SmallFileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is {0}, not a regular file")]
    NotAFile(&'static str),
    #[error("it is larger than {limit}, the most bulkrefund reads for it")]
    TooLarge { limit: &'static str },
    #[error("it is not UTF-8 text")]
    NotText,
}

impl SmallFileError {
    /// What went wrong, without the operating system's own wording (for a
    /// key file, whose message must stay short and never echo anything).
    pub fn brief(&self) -> String {
        match self {
            SmallFileError::Io(e) => e.kind().to_string(),
            other => other.to_string(),
        }
    }
}

/// What a file that is not a regular file is.
fn kind(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a FIFO (a named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    // A FIFO with no writer would block the open itself.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

/// Reads `path`, a regular file of at most `limit` bytes (`limit_text` says
/// it for people), as text; returns its metadata too, for a warning about who
/// may read or change it.
pub fn read(
    path: &Path,
    limit: u64,
    limit_text: &'static str,
) -> Result<(String, Metadata), SmallFileError> {
    let file = open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(SmallFileError::NotAFile(kind(&meta)));
    }
    let too_large = SmallFileError::TooLarge { limit: limit_text };
    if meta.len() > limit {
        return Err(too_large);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // One byte more than allowed tells a file that grew since.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large);
    }
    let text = String::from_utf8(bytes).map_err(|_| SmallFileError::NotText)?;
    Ok((text, meta))
}

/// The file's permission bits (`0o644`), where files have them.
pub fn mode(meta: &Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_config(path: &Path) -> Result<String, String> {
        read(path, 16, "16 bytes")
            .map(|(text, _)| text)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn only_a_small_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.toml");
        std::fs::write(&small, "rate = 10\n").unwrap();
        assert_eq!(read_config(&small).unwrap(), "rate = 10\n");
        let large = dir.path().join("large.toml");
        std::fs::write(&large, "#".repeat(17)).unwrap();
        assert_eq!(
            read_config(&large).unwrap_err(),
            "it is larger than 16 bytes, the most bulkrefund reads for it"
        );
        assert_eq!(
            read_config(Path::new("/dev/zero")).unwrap_err(),
            "it is a character device, not a regular file"
        );
        assert_eq!(
            read_config(dir.path()).unwrap_err(),
            "it is a directory, not a regular file"
        );
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(
            read_config(&fifo).unwrap_err(),
            "it is a FIFO (a named pipe), not a regular file"
        );
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xFF, 0xFE]).unwrap();
        assert_eq!(read_config(&binary).unwrap_err(), "it is not UTF-8 text");
    }
}
