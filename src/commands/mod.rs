//! One module per subcommand: each turns checked options into work and returns
//! the exit code its outcome deserves.

pub mod sim;
