//! The chaos harness behind `scripts/chaos`: 5,000 refunds with every fault on,
//! the release binary killed with SIGKILL at seeded random moments (20 times by
//! default), `resume` after each, then the verdict. Exits 1 on any discrepancy.
//! `cargo run --release --example chaos -- [--rows N] [--kills N] [--seed N]`

#[path = "../tests/common/chaos.rs"]
mod chaos;

fn flag(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let exe = std::env::current_exe().expect("the harness knows where it is");
    let chaos = chaos::Chaos {
        gateway: bulkrefund::gateway::GatewayKind::Leshua,
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
