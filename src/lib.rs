//! bulkrefund: pays refunds back in bulk through the Leshua and Lianshang
//! gateways, each exactly once, and reports only outcomes the gateway gave.

pub mod gateway;
pub mod money;
pub mod secret;
