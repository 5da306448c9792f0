//! One module per subcommand: each turns checked options into work and returns
//! the exit code its outcome deserves.

pub mod context;
pub mod demo;
pub mod export;
pub mod interrupt;
pub mod retry;
pub mod run;
pub mod sim;
pub mod status;
pub mod validate;
