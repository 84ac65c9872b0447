//! Enter on a process: its full command line, ids, children, open sockets, descriptor count,
//! and its signal masks decoded (blocked, ignored, caught, pending).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::overlay_block;
use crate::model::{Process, SignalSet};
use crate::text::printable;
use crate::tui::app::App;
use crate::tui::event::ChildKind;
use crate::tui::layout::centered;
use crate::tui::views::stat_string;
use crate::units::{format_duration, format_size};

fn names(set: SignalSet) -> String {
    if set.is_empty() {
        "none".to_string()
    } else {
        set.names().join(" ")
    }
}

pub fn draw(frame: &mut Frame, app: &App, pid: i32, area: Rect) {
    let t = app.theme;
    let rect = centered(area, 90, 30);
    let (block, inner) =
        overlay_block(frame, rect, " Process details · k signal · any key closes ");
    frame.render_widget(block, rect);
    let Some(p) = app.process(pid) else {
        frame.render_widget(
            Paragraph::new(format!(
                "pid {pid} is gone: it exited since it was selected"
            )),
            inner,
        );
        return;
    };
    let mut lines = identity_lines(app, p);
    let roles = role_words(app, p);
    if !roles.is_empty() {
        let style = if p.is_zombie() {
            t.danger()
        } else {
            t.accent()
        };
        lines.push(Line::from(Span::styled(roles.join(" · "), style)));
    }
    if let Some((demo, name)) = demo_of(app, p) {
        lines.push(Line::from(Span::styled(
            format!("started by demo {name} (pid {demo}): Enter on pid {demo} shows all it said and its log"),
            t.accent(),
        )));
    }
    let kids = children_words(app, p);
    lines.push(Line::from(format!(
        "children: {}",
        if kids.is_empty() {
            "none".to_string()
        } else {
            kids.join(" ")
        }
    )));
    lines.push(Line::from(Span::styled("signals", t.title())));
    lines.extend(signal_lines(p).into_iter().map(Line::from));
    let socks = socket_rows(app, p.pid);
    lines.push(Line::from(Span::styled(
        format!("sockets ({})", socks.len()),
        t.title(),
    )));
    if socks.is_empty() {
        let why = if app.snapshot.owners_partial {
            "  none seen (owners are partial: not root)"
        } else {
            "  none"
        };
        lines.push(Line::from(why));
    }
    lines.extend(socks.into_iter().map(Line::from));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The command line, then the ids, then state and resources.
fn identity_lines(app: &App, p: &Process) -> Vec<Line<'static>> {
    vec![
        Line::from(vec![
            Span::styled(format!("{} ", p.pid), app.theme.title()),
            Span::raw(p.command()),
        ]),
        Line::from(format!(
            "pid {}  ppid {}  pgid {}  sid {}  tty {}  tpgid {}",
            p.pid,
            p.ppid,
            p.pgid,
            p.sid,
            p.tty.as_deref().unwrap_or("none"),
            p.tpgid
        )),
        Line::from(format!(
            "state {}  user {}  threads {}  cpu time {}  rss {}  fds {}",
            stat_string(p),
            p.user
                .clone()
                .or(p.uid.map(|u| u.to_string()))
                .unwrap_or_else(|| "?".into()),
            p.threads,
            format_duration(p.cpu_time),
            format_size(p.rss_bytes),
            p.fd_count
                .map_or("? (not readable)".to_string(), |n| n.to_string())
        )),
    ]
}

/// The process's roles (leaders, daemon, zombie, zombie parent) in words.
fn role_words(app: &App, p: &Process) -> Vec<String> {
    let role = app.relations.roles_of(p);
    let mut roles = Vec::new();
    if role.session_leader {
        roles.push("session leader".to_string());
    }
    if role.group_leader {
        roles.push("process group leader".to_string());
    }
    if role.daemon {
        roles.push("daemon (no terminal, its own session, adopted)".to_string());
    }
    if p.is_zombie() {
        let waited = match (app.snapshot.taken_at, p.zombie_since) {
            (Some(now), Some(since)) => format!(
                " for {}",
                format_duration(now.duration_since(since).unwrap_or_default())
            ),
            _ => String::new(),
        };
        roles.push(format!(
            "ZOMBIE: exited, waiting{waited} for parent {} to reap it (wait/waitpid)",
            p.ppid
        ));
    }
    if role.is_zombie_parent() {
        roles.push(format!(
            "parent of {}",
            crate::units::count(
                role.unreaped_children,
                "unreaped zombie",
                "unreaped zombies"
            )
        ));
    }
    roles
}

/// Each child as `comm(pid)`, `comm(pid Z)` for a zombie.
fn children_words(app: &App, p: &Process) -> Vec<String> {
    let Some(kids) = app.relations.children.get(&p.pid) else {
        return Vec::new();
    };
    kids.iter()
        .filter_map(|c| app.process(*c))
        .map(|c| {
            format!(
                "{}({}{})",
                printable(&c.comm),
                c.pid,
                if c.is_zombie() { " Z" } else { "" }
            )
        })
        .collect()
}

/// The signal masks decoded, one line each.
fn signal_lines(p: &Process) -> Vec<String> {
    match p.masks {
        None => vec!["masks not readable (another user's process; run as root)".to_string()],
        Some(m) => vec![
            format!("  blocked: {}", names(m.blocked)),
            format!("  ignored: {}", names(m.ignored)),
            format!("  caught:  {}", names(m.caught)),
            format!(
                "  pending: {}",
                names(SignalSet(m.pending.0 | m.shared_pending.0))
            ),
        ],
    }
}

/// The sockets `pid` holds: descriptor, state, local → remote.
fn socket_rows(app: &App, pid: i32) -> Vec<String> {
    app.snapshot
        .sockets
        .iter()
        .filter_map(|s| {
            let fd = s.owners.iter().flatten().find(|o| o.pid == pid)?.fd;
            Some(format!(
                "  fd {fd:<4} {:<11} {} → {}",
                s.state.kernel_name(),
                s.local,
                s.remote
            ))
        })
        .collect()
}

/// The demo the dashboard started that `p` descends from (a demo's own process opens its
/// output, not these details): (its pid, its name).
fn demo_of<'a>(app: &'a App, p: &Process) -> Option<(i32, &'a str)> {
    let mut pid = p.ppid;
    for _ in 0..16 {
        if let Some(c) = app.children.iter().find(|c| c.pid == pid) {
            return match &c.kind {
                ChildKind::Demo(name) => Some((pid, name.as_str())),
                ChildKind::Server => None,
            };
        }
        pid = app.process(pid)?.ppid;
    }
    None
}
