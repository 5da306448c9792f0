//! `scripts/bench --only wechatpay`: a generated WeChat Pay batch at the
//! profile's two rates (applies 150/s, queries and polls 300/s in their own
//! lane) against the simulator's limits (150 applies/s, 300 queries/s, 429
//! `FREQUENCY_LIMITED` beyond), with refunds that stay processing a second
//! and polls every second, and some answers lost (HTTP 500, dropped
//! connections) so that queries run beside the applies. The simulator counts
//! applies and queries apart, at their arrival.

use std::path::Path;
use std::time::Duration;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;

const RATE: u32 = 150;
const QUERY_RATE: u32 = 300;
/// The share of applies answered HTTP 500, and of those dropped unanswered.
const LOST: f64 = 0.005;

/// The generated configuration's `wechatpay` profile (its last) at the two
/// rates, no concurrency (the engine finds it), polls every second.
fn wechatpay_profile(config: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    let (others, wechatpay) = text.split_once("[profiles.wechatpay]").unwrap();
    let kept: String = wechatpay
        .lines()
        .filter(|l| {
            !(l.starts_with("concurrency") || l.starts_with("rate") || l.starts_with("query_rate"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let text = format!(
        "{others}[profiles.wechatpay]{kept}rate = {RATE}\nquery_rate = {QUERY_RATE}\npoll_schedule = [\"1s\"]\n"
    );
    std::fs::write(config, text).unwrap();
}

pub async fn section(dir: &Path, scale: impl Fn(u64) -> u64, table: &mut Vec<String>) {
    for (latency, label) in [((50, 50), "50 ms"), ((20, 300), "20..300 ms")] {
        let rows = scale(u64::from(RATE) * 20);
        let faults = FaultConfig {
            latency_ms: Some(latency),
            processing_for: Duration::from_secs(1),
            // Each lost answer also cuts the in-flight limit by a third for
            // 2 s (the engine reads a 5xx or no answer as load): at 2 % each
            // the 50 ms case stayed cut most of the run (0.94-0.96).
            fail_rate: LOST,
            drop_rate: LOST,
            seed: Some(7),
            ..FaultConfig::default()
        };
        let prefix = format!("WX{}x{}", latency.0, latency.1);
        let (batch, config, sim) =
            super::prepare(dir, GatewayKind::Wechatpay, rows, &prefix, faults).await;
        wechatpay_profile(&config);
        let run = super::run_batch(&batch, &config, "wechatpay", &[]).await;
        let ledger = sim.ledger();
        sim.stop().await;
        let wx = ledger.wechatpay;
        let paid = ledger
            .refunds
            .iter()
            .filter(|r| r.status == bulkrefund::sim::ledger::RefundState::Succeeded)
            .count();
        let applies_pace = wx.applies_whole.per_second().unwrap_or(0.0);
        let applies_steady = wx.applies_steady.per_second().unwrap_or(0.0);
        let settled = run
            .stderr
            .lines()
            // "wechatpay merchant … (profile wechatpay): …": one line per merchant.
            .find_map(|l| l.split_once(" (profile wechatpay): ").map(|(_, pace)| pace))
            .unwrap_or("?")
            .to_owned();
        table.push(format!(
            "| WeChat: rate {RATE}, query_rate {QUERY_RATE}, {label} latency, {rows} rows (processing 1 s, polls every 1 s, {:.1} % of applies answered HTTP 500 and {:.1} % dropped), no concurrency set | applies first to last **{:.3}** of {RATE} ({applies_pace:.1}/s, {} applies), after their first second **{:.3}**; busiest one-second window: applies **{}**, queries **{}** ({} queries); **{}** 429 FREQUENCY_LIMITED; {paid} paid; {:.1} s; {settled} | ≥ 0.99, ≤ {RATE}, ≤ {QUERY_RATE}, 0 |",
            LOST * 100.0,
            LOST * 100.0,
            applies_pace / f64::from(RATE),
            wx.applies,
            applies_steady / f64::from(RATE),
            wx.max_applies_in_one_second,
            wx.max_queries_in_one_second,
            wx.queries,
            wx.frequency_limited,
            run.wall.as_secs_f64(),
        ));
        eprintln!("wechatpay {label} done");
    }
}
