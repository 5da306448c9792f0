//! Which profiles are one gateway merchant, and the rates they share. A
//! gateway limits a merchant, not a profile: two profiles of one merchant
//! (their own keys or notify settings) sent at once would each take the whole
//! limit, and together send twice what the gateway allows. So each
//! [`Merchant`] (a gateway and a merchant id) has one pace in a process
//! (engine/merchant_pace.rs), at the lowest rate, query rate and concurrency
//! its profiles set ([`shared_rates`]); when their rates differ the run says
//! so once, naming them and the rate taken.

use crate::gateway::GatewayKind;

use super::rate_ledger::{CallKind, RateKey};

/// A gateway merchant: whose limits the gateway keeps.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Merchant {
    pub gateway: GatewayKind,
    pub merchant_id: String,
}

impl Merchant {
    /// The key of its limit on `calls`.
    pub fn key(&self, calls: CallKind) -> RateKey {
        RateKey {
            gateway: self.gateway,
            merchant_id: self.merchant_id.clone(),
            calls,
        }
    }
}

impl std::fmt::Display for Merchant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} merchant {}", self.gateway, self.merchant_id)
    }
}

/// What one profile asks of its merchant's pace (the command line's
/// `--rate` and `--concurrency` applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileRates {
    pub name: String,
    pub merchant: Merchant,
    /// Requests per second: submits only when `query_rate` is set.
    pub rate: u32,
    pub query_rate: Option<u32>,
    pub concurrency: u32,
}

/// The pace a merchant's profiles share: the lowest of what each sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedRates {
    pub rate: u32,
    /// Set when the gateway limits queries apart (then for every profile of it).
    pub query_rate: Option<u32>,
    pub concurrency: u32,
}

/// The rates `merchant` shares among those of `profiles` that are its
/// (`profiles` may hold every profile of the configuration), and, when
/// their rates differ, the warning that says which was taken. `None` when
/// none is its.
pub fn shared_rates(
    merchant: &Merchant,
    profiles: &[ProfileRates],
) -> Option<(SharedRates, Option<String>)> {
    let mut members: Vec<&ProfileRates> = profiles
        .iter()
        .filter(|p| &p.merchant == merchant)
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let shared = SharedRates {
        rate: members.iter().map(|p| p.rate).min()?,
        query_rate: members.iter().filter_map(|p| p.query_rate).min(),
        concurrency: members.iter().map(|p| p.concurrency).min()?,
    };
    let differ = members
        .iter()
        .any(|p| p.rate != shared.rate || p.query_rate != shared.query_rate);
    Some((shared, differ.then(|| warning(merchant, &members, shared))))
}

/// "Warning: profiles a (rate 30) and b (rate 20) are one merchant at the
/// gateway (leshua merchant 8800): they share its lowest rate, 20 requests/s".
fn warning(merchant: &Merchant, members: &[&ProfileRates], shared: SharedRates) -> String {
    let named: Vec<String> = members
        .iter()
        .map(|p| match p.query_rate {
            None => format!("{} (rate {})", p.name, p.rate),
            Some(queries) => format!("{} (rate {}, query_rate {queries})", p.name, p.rate),
        })
        .collect();
    let (last, rest) = named.split_last().expect("profiles differ: two at least");
    let taken = match shared.query_rate {
        None => format!("its lowest rate, {} requests/s", shared.rate),
        Some(queries) => format!(
            "its lowest rates, {} submits/s and {queries} queries/s",
            shared.rate
        ),
    };
    format!(
        "Warning: profiles {} and {last} are one merchant at the gateway ({merchant}): they share {taken}, \
         since the gateway's limit is the merchant's",
        rest.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merchant(gateway: GatewayKind, id: &str) -> Merchant {
        Merchant {
            gateway,
            merchant_id: id.into(),
        }
    }

    fn profile(name: &str, merchant: &Merchant, rate: u32, concurrency: u32) -> ProfileRates {
        ProfileRates {
            name: name.into(),
            merchant: merchant.clone(),
            rate,
            query_rate: None,
            concurrency,
        }
    }

    #[test]
    fn profiles_of_one_merchant_share_its_lowest_rate_and_others_keep_their_own() {
        let shop = merchant(GatewayKind::Leshua, "8800");
        let other_id = merchant(GatewayKind::Leshua, "8801");
        let other_gateway = merchant(GatewayKind::Lianshang, "8800");
        let profiles = [
            profile("fast", &shop, 10, 16),
            profile("slow", &shop, 6, 32),
            profile("elsewhere", &other_id, 10, 16),
            profile("lianshang", &other_gateway, 10, 16),
        ];
        let (rates, warning) = shared_rates(&shop, &profiles).unwrap();
        assert_eq!(
            rates,
            SharedRates {
                rate: 6,
                query_rate: None,
                concurrency: 16
            }
        );
        assert_eq!(
            warning.as_deref(),
            Some(
                "Warning: profiles fast (rate 10) and slow (rate 6) are one merchant at the gateway \
                 (leshua merchant 8800): they share its lowest rate, 6 requests/s, since the \
                 gateway's limit is the merchant's"
            )
        );
        for other in [&other_id, &other_gateway] {
            let (rates, warning) = shared_rates(other, &profiles).unwrap();
            assert_eq!((rates.rate, warning), (10, None), "{other}");
        }
        assert!(shared_rates(&merchant(GatewayKind::Alipay, "1"), &profiles).is_none());
    }

    #[test]
    fn the_same_rates_need_no_warning_and_query_rates_are_shared_apart() {
        let shop = merchant(GatewayKind::Wechatpay, "1900");
        let mut a = profile("a", &shop, 100, 16);
        let mut b = profile("b", &shop, 100, 16);
        a.query_rate = Some(300);
        b.query_rate = Some(300);
        let (rates, warning) = shared_rates(&shop, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(
            (rates.rate, rates.query_rate, warning),
            (100, Some(300), None)
        );
        let c = ProfileRates {
            name: "c".into(),
            query_rate: Some(200),
            ..b.clone()
        };
        let (rates, warning) = shared_rates(&shop, &[c, a, b]).unwrap();
        assert_eq!((rates.rate, rates.query_rate), (100, Some(200)));
        assert_eq!(
            warning.as_deref(),
            Some(
                "Warning: profiles a (rate 100, query_rate 300), b (rate 100, query_rate 300) and \
                 c (rate 100, query_rate 200) are one merchant at the gateway (wechatpay merchant \
                 1900): they share its lowest rates, 100 submits/s and 200 queries/s, since the \
                 gateway's limit is the merchant's"
            )
        );
    }
}
