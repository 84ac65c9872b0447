//! `tcplab stop | reload | reopen | status`: signal the server named by a pid file.
use std::process::ExitCode;

use crate::cli::{ControlArgs, StopArgs};

pub fn stop(_args: StopArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("stop")
}

pub fn reload(_args: ControlArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("reload")
}

pub fn reopen(_args: ControlArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("reopen")
}

pub fn status(_args: ControlArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("status")
}
