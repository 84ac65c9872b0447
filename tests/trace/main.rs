//! `tcplab trace` and the tracing behind the dashboard, against the real kernel's tracepoint.

mod dashboard;
mod kernel;
mod live;
