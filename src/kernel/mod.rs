//! The only code that reads or changes the OS: processes and sockets, owners, transitions,
//! signals, the subreaper. Everything above works on `crate::model` values.

pub mod family;
pub mod fork;
pub mod subreaper;
