//! "Did you mean `--profile lianshang`?": when a batch lacks the columns of
//! the profile given, the configuration's other profiles whose columns it has.

use crate::batch::{FileError, Header};
use crate::config::Config;

/// The hint for a missing-column error, when another profile fits the file.
pub fn other_profile(config: &Config, current: &str, error: &FileError) -> Option<String> {
    let FileError::Columns { header, .. } = error else {
        return None;
    };
    let fits = |name: &&str| {
        config.profile(name).is_ok_and(|profile| {
            Header::with_aliases(header, profile.spec().aliases()).is_ok_and(|header| {
                profile
                    .spec()
                    .columns(&header, profile.row_defaults())
                    .is_ok()
            })
        })
    };
    let name = config
        .profile_names()
        .filter(|name| *name != current)
        .find(fits)?;
    Some(format!(
        "did you mean `--profile {name}`? The file has that profile's columns"
    ))
}

/// The error for a file-level problem, with the hint when there is one.
pub fn file_error(config: &Config, current: &str, error: FileError) -> anyhow::Error {
    let message = match other_profile(config, current, &error) {
        Some(hint) => format!("{error}; {hint}"),
        None => error.to_string(),
    };
    crate::exit::UsageError(message).into()
}
