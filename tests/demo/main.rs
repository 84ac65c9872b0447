//! The demos, each checked against the kernel's own view (/proc, `ps`, `ss`), and the
//! dashboard's jump to what each demo is about.

mod congestion;
mod focus;
mod net;
mod process;
mod zombie;
