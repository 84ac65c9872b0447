//! The inspector (`ps`, `net`) against the real kernel, `ss` and `ps`, and its /proc parsers on
//! captured text.

mod churn;
mod commands;
mod diff;
mod handshake;
mod hostile_names;
mod info;
mod parsers;
mod unprivileged;
mod width;
