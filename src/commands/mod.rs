//! One module per subcommand, each with a `main` that turns its flags into
//! options and returns the exit code its outcome deserves. The commands that
//! send share one application path ([`app`]).

pub mod app;
pub mod approve;
pub mod caps;
pub mod confirm;
pub mod demo;
pub mod export;
pub mod interrupt;
pub mod journal;
pub mod journal_copy;
pub mod look;
pub mod manual;
pub mod reconcile;
mod reconcile_paths;
pub mod report;
pub mod resume;
pub mod retry;
mod retry_plan;
pub mod run;
pub mod show;
pub mod sim;
pub mod status;
#[cfg(test)]
mod stub_abnormal;
#[cfg(test)]
mod stub_gateway;
pub mod suggest;
pub mod validate;
#[cfg(test)]
mod wechatpay_abnormal;

/// The exit code for an error that ended a command. An output path refused,
/// or a file at the journal's path that is not a journal, is a usage error:
/// nothing was done. (Here rather than in `exit`, since it looks into the
/// journal's errors and the journal's modules use `exit`'s.)
pub fn exit_code_for(error: &anyhow::Error) -> u8 {
    use crate::journal::JournalError;
    let usage = |cause: &(dyn std::error::Error + 'static)| {
        cause.is::<crate::exit::UsageError>()
            || cause.is::<crate::paths::Refused>()
            || matches!(
                cause.downcast_ref::<JournalError>(),
                Some(JournalError::NotAJournal { .. })
            )
    };
    if error.chain().any(usage) {
        crate::exit::USAGE
    } else if error
        .chain()
        .any(|cause| cause.is::<crate::exit::Interrupted>())
    {
        crate::exit::UNRESOLVED
    } else {
        crate::exit::FATAL
    }
}
