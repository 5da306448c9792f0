//! One module per subcommand, each with a `main` that turns its flags into
//! options and returns the exit code its outcome deserves. The commands that
//! send share one application path ([`app`]).

pub mod app;
pub mod caps;
pub mod confirm;
pub mod demo;
pub mod export;
pub mod interrupt;
pub mod journal;
pub mod look;
pub mod manual;
pub mod reconcile;
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
