//! One module per subcommand: each turns checked options into work and returns
//! the exit code its outcome deserves.

pub mod context;
pub mod demo;
pub mod interrupt;
pub mod run;
pub mod sim;
pub mod status;
pub mod validate;
