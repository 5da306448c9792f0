//! The chaos harness behind `scripts/chaos`: 5,000 refunds with every fault on,
//! the release binary killed with SIGKILL at seeded random moments (20 times by
//! default), `resume` after each, then the verdict. Exits 1 on any discrepancy.
//! `cargo run --release --example chaos -- [--gateway NAME] [--rows N] [--kills N] [--seed N]`

#[path = "../tests/common/chaos.rs"]
mod chaos;

fn value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    Some(
        args.get(i + 1)
            .unwrap_or_else(|| panic!("{name} takes a value"))
            .clone(),
    )
}

fn flag(name: &str, default: u64) -> u64 {
    value(name)
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let exe = std::env::current_exe().expect("the harness knows where it is");
    let gateway = value("--gateway").map_or(bulkrefund::gateway::GatewayKind::Leshua, |name| {
        bulkrefund::gateway::GatewayKind::parse(&name)
            .unwrap_or_else(|| panic!("--gateway: no gateway {name:?}"))
    });
    let chaos = chaos::Chaos {
        gateway,
        rows: flag("--rows", 5_000),
        kills: flag("--kills", 20) as u32,
        seed: flag("--seed", 1),
        binary: exe.parent().unwrap().parent().unwrap().join("bulkrefund"),
        import_kills: flag("--import-kills", 5) as u32,
        retry_rounds: flag("--retry-rounds", 4) as u32,
    };
    let report = chaos::run(&chaos, |line| println!("{line}")).await;
    let passed = report.discrepancies.is_empty() && report.verdict.starts_with("verdict: PASS");
    std::process::exit(if passed { 0 } else { 1 });
}
