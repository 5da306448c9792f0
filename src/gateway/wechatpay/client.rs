//! The WeChat Pay client: a placeholder until the signed client lands; every
//! attempt is unknown, so nothing is ever believed from it.

use crate::gateway::{Attempt, Gateway, Outcome, RefundOrder};

pub struct WechatpayClient;

#[async_trait::async_trait]
impl Gateway for WechatpayClient {
    async fn submit(&self, _refund: &RefundOrder) -> Attempt {
        Attempt::without_answer(Outcome::unknown("the WeChat Pay client is not built yet"))
    }

    async fn query(&self, _refund: &RefundOrder) -> Attempt {
        Attempt::without_answer(Outcome::unknown("the WeChat Pay client is not built yet"))
    }
}
