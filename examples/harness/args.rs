//! The command-line flags of the chaos harnesses (examples/chaos.rs,
//! examples/team_chaos.rs): `--name value`, read from the process's arguments.

/// The value after `name`, if the flag is given.
pub fn value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    Some(
        args.get(i + 1)
            .unwrap_or_else(|| panic!("{name} takes a value"))
            .clone(),
    )
}

/// The number after `name`, else `default`.
pub fn flag(name: &str, default: u64) -> u64 {
    value(name)
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}
