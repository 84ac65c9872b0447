//! The open lesson in a plain terminal: the explanation, then each step with its action, and
//! its check's verdict once it holds. Ends when the lesson is done, or on Ctrl+C/TERM/HUP
//! (progress is saved at every step).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::check::{Tracing, Verdict};
use super::session::{Change, Session};
use crate::output::print_line;

pub fn run(mut s: Session, interval: Duration) -> anyhow::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let lang = s.lang();
    let l = s.lesson().clone();
    let say = |line: &str| print_line(line).map(|_| ());
    say(&lang.pick(
        format!("lesson {}: {}  (port {})", l.number, l.title, s.port()),
        format!("第 {} 课：{}（端口 {}）", l.number, l.title, s.port()),
    ))?;
    for p in &l.paragraphs {
        say("")?;
        say(p)?;
    }
    if l.steps.iter().any(|s| s.check.needs_transitions()) {
        // A step's transitions count from when the tracer is live: say when that is, and how.
        s.watcher.wait_tracing(Duration::from_secs(10));
        say("")?;
        say(&match &s.watcher.tracing {
            Tracing::Kernel => lang
                .pick(
                    "transitions: from the kernel's tracepoint",
                    "状态变化：来自内核的 tracepoint",
                )
                .to_string(),
            Tracing::Sampled { interval, why } => lang.pick(
                format!(
                    "transitions: sampled every {}ms ({why}): shorter states are not seen",
                    interval.as_millis()
                ),
                format!(
                    "状态变化：每 {}ms 采样一次（{why}）：更短的状态看不到",
                    interval.as_millis()
                ),
            ),
            Tracing::None => lang
                .pick(
                    "transitions: the tracer did not start",
                    "状态变化：跟踪器没有启动",
                )
                .to_string(),
        })?;
        s.watcher.forget_transitions();
    }
    let total = l.steps.len();
    let mut announced = None;
    let mut cannot_told = false;
    while let Some(i) = s.next_step() {
        if stop.load(Ordering::Relaxed) {
            say(lang.pick("stopped; progress is saved", "已停止；进度已保存"))?;
            return Ok(ExitCode::from(130));
        }
        if announced != Some(i) {
            let step = &l.steps[i];
            say("")?;
            say(&format!(
                "{} {}/{total}: {}",
                lang.pick("step", "步骤"),
                i + 1,
                step.title
            ))?;
            if let Some(k) = &step.key {
                say(&format!(
                    "  {} {k}",
                    lang.pick("key in the dashboard:", "仪表盘按键：")
                ))?;
            }
            if let Some(c) = s.command(step) {
                say(&format!("  {} {c}", lang.pick("run:", "运行：")))?;
            }
            for p in &step.paragraphs {
                say(&format!("  {}", s.fill(p)))?;
            }
            announced = Some(i);
            cannot_told = false;
        }
        match s.tick()? {
            Some(Change::StepDone(_, text)) => say(&format!("  ✓ {text}"))?,
            None => {
                if let Some(Verdict::Cannot(why)) = &s.verdict {
                    if !cannot_told {
                        say(&format!(
                            "  {} {why}",
                            lang.pick("cannot check this here:", "这里无法检查：")
                        ))?;
                        cannot_told = true;
                    }
                }
                std::thread::sleep(interval.min(Duration::from_millis(200)));
            }
        }
    }
    say("")?;
    say(&lang.pick(
        format!("lesson {}: done", l.number),
        format!("第 {} 课：完成（done）", l.number),
    ))?;
    Ok(ExitCode::SUCCESS)
}
