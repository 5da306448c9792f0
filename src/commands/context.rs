//! What most commands start from: the configuration, a checked profile, the journal path.

use std::path::PathBuf;

use crate::config::{Config, Profile};
use crate::exit::UsageError;

pub struct Context {
    pub config: Config,
    pub journal_path: PathBuf,
}

impl Context {
    pub fn load(
        config: Option<&std::path::Path>,
        journal: Option<&std::path::Path>,
    ) -> Result<Context, UsageError> {
        let config = Config::load(&Config::locate(config))?;
        let journal_path = config.journal_path(journal);
        Ok(Context {
            config,
            journal_path,
        })
    }

    pub fn profile(&self, name: &str) -> Result<Profile, UsageError> {
        self.config.profile(name)
    }
}
