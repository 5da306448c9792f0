//! Where `reconcile` may write: the paths its report and the raw bills it
//! keeps may never be (the journal, the configuration, a batch's input, a
//! bill given, the report itself), and keeping a fetched raw bill without
//! ever replacing one an earlier reconciliation recorded.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use jiff::civil::Date;

use crate::exit::UsageError;
use crate::journal::Journal;
use crate::journal::JournalLocation;
use crate::paths::Protected;

/// What no file reconciliation writes may be: the journal, the
/// configuration, a batch's input, a bill file given, and the report itself
/// (so that a raw bill kept is never the report). The report's path is
/// checked here, before anything is fetched or recorded: a report that cannot
/// be written fails before the record (exit 2), never after it. A name of the
/// kept bills' form (`DATE.GATEWAY.bill.EXT`) is refused for the report: an
/// earlier reconciliation's raw bill may be there.
pub(super) fn protected_paths(
    journal: &Journal,
    journal_at: &JournalLocation,
    config: Option<&Path>,
    (files, out): (&[(Date, PathBuf)], &Path),
) -> anyhow::Result<Protected> {
    let mut protected = Protected::new();
    journal_at.protect(&mut protected);
    if let Some(config) = config {
        protected.add(config, "the configuration");
    }
    for input in journal.batch_inputs()? {
        protected.add(&input, "the input of a batch in the journal");
    }
    for (_, file) in files {
        protected.add(file, "a bill file");
    }
    protected.check(out, "--out")?;
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    if name.contains(".bill.") {
        return Err(UsageError(format!(
            "--out '{}': a name of the form DATE.GATEWAY.bill.* is where raw bills are kept; name the report otherwise",
            out.display()
        ))
        .into());
    }
    crate::paths::check_writable(out, "--out")?;
    protected.add(out, "the report (--out)");
    Ok(protected)
}

/// Keeps a fetched bill's raw bytes as `STEM.EXT` beside the report, never
/// over a different file: an earlier reconciliation recorded that file's
/// SHA-256, and the file is its evidence. A bill fetched again with other
/// bytes is kept as `STEM.<first 12 hex of its SHA-256>.EXT`; the same bytes
/// are not written twice.
pub(super) fn keep_raw(
    dir: &Path,
    stem: String,
    extension: &str,
    (raw, sha256): (&[u8], &str),
    protected: &Protected,
) -> anyhow::Result<PathBuf> {
    let plain = dir.join(format!("{stem}.{extension}"));
    let hashed = dir.join(format!("{stem}.{}.{extension}", &sha256[..12]));
    for kept in [plain, hashed] {
        protected.check(&kept, "the raw bill kept")?;
        match std::fs::read(&kept) {
            Ok(there) if there == raw => return Ok(kept),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::paths::write_replacing(&kept, |mut file| {
                    std::io::Write::write_all(&mut file, raw)
                })
                .map_err(|e| anyhow!("cannot keep the raw bill at '{}': {e}", kept.display()))?;
                return Ok(kept);
            }
            Err(e) => return Err(anyhow!("cannot read '{}': {e}", kept.display())),
        }
    }
    Err(anyhow!(
        "a different file is already kept at '{}.{}.{extension}': not replaced",
        stem,
        &sha256[..12]
    ))
}
