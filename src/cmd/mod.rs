//! The plain commands for scripts: each turns a model into text for a terminal or JSON.

pub mod docs;
pub mod net;
mod net_info;
mod net_rate;
pub mod ps;
