//! Pane 1, Processes: flat or tree, the `ps -axj` columns plus CPU%, RSS and role marks.
//! Zombies in red; their parent marked `Z<n>` with its count of unreaped children.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::{fit, pane_block};
use crate::model::{ProcState, Process};
use crate::tui::app::App;
use crate::tui::traffic::rate_text;
use crate::tui::views::{marks, shows_process_traffic, stat_string, ProcColumn};
use crate::units::format_size;

/// Columns shown at a width: everything on a wide terminal, the essentials on a narrow one.
fn columns(width: u16) -> Vec<(ProcColumn, u16)> {
    use ProcColumn::*;
    let all: &[(ProcColumn, u16)] = &[
        (Pid, 7),
        (Ppid, 7),
        (Pgid, 7),
        (Sid, 7),
        (Tty, 6),
        (Tpgid, 6),
        (Stat, 5),
        (User, 8),
        (Cpu, 5),
        (Rss, 9),
        (NetUp, 9),
        (NetDown, 9),
        (Command, 0),
    ];
    let keep: &[ProcColumn] = if shows_process_traffic(width) {
        &ProcColumn::ALL
    } else if width >= 100 {
        &[
            Pid, Ppid, Pgid, Sid, Tty, Tpgid, Stat, User, Cpu, Rss, Command,
        ]
    } else if width >= 70 {
        // COMMAND gets the room PGID and SID would take.
        &[Pid, Ppid, Stat, User, Cpu, Command]
    } else if width >= 32 {
        &[Pid, Ppid, Stat, Command]
    } else {
        &[Pid, Command]
    };
    all.iter()
        .copied()
        .filter(|(c, _)| keep.contains(c))
        .collect()
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let cols = columns(area.width);
    let arrow = if app.procs.sort.descending {
        "▼"
    } else {
        "▲"
    };
    let (first_row, rows) = crate::tui::layout::table_rows(area);
    // The marks of the rows on screen: MARK is as wide as the widest, and not there when
    // no row has one; COMMAND gets the room.
    let visible: Vec<_> = app
        .procs
        .rows
        .iter()
        .enumerate()
        .skip(app.procs.cursor.offset)
        .take(rows)
        .map(|(i, r)| (i, r, marks(&app.snapshot.processes[r.idx], &app.relations)))
        .collect();
    let mark_width = match visible.iter().map(|(_, _, m)| m.chars().count()).max() {
        Some(0) | None => 0,
        Some(w) => w.max("MARK".len()),
    };
    let header = Row::new(cols.iter().map(|(c, _)| {
        let mut title = c.title().to_string();
        if *c == app.procs.sort.column {
            title.push_str(arrow);
        }
        if *c == ProcColumn::Command && mark_width > 0 {
            title = format!("{:<mark_width$} {title}", "MARK");
        }
        cell_aligned(title, *c)
    }))
    .style(t.title());
    let inner_width = match crate::tui::layout::bordered(area) {
        true => area.width.saturating_sub(2),
        false => area.width,
    };
    let cmd_width =
        inner_width.saturating_sub(cols.iter().map(|(_, w)| w + 1).sum::<u16>()) as usize;
    let body = visible.into_iter().map(|(i, r, mark)| {
        let p = &app.snapshot.processes[r.idx];
        let style = if i == app.procs.cursor.at {
            t.selected()
        } else {
            row_style(app, p)
        };
        let command = match mark_width {
            0 => format!("{}{}", r.prefix, shown_command(p)),
            w => format!("{mark:<w$} {}{}", r.prefix, shown_command(p)),
        };
        Row::new(cols.iter().map(|(c, _)| {
            let text = match c {
                ProcColumn::Command => fit(&command, cmd_width),
                other => cell(app, p, *other),
            };
            cell_aligned(text, *c)
        }))
        .style(style)
    });
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|(c, w)| match c {
            ProcColumn::Command => Constraint::Fill(1),
            _ => Constraint::Length(*w),
        })
        .collect();
    let mut title = format!(
        " Processes {}/{} · sort {}{} ",
        app.procs.rows.len(),
        app.snapshot.processes.len(),
        app.procs.sort.column.title(),
        arrow
    );
    if app.procs.tree {
        title.push_str("· tree ");
    }
    let table = Table::new(body, widths).header(header).block(pane_block(
        app,
        area,
        title,
        &app.procs.filter.text,
    ));
    frame.render_widget(table, area);
    if app.procs.rows.is_empty() && !app.snapshot.processes.is_empty() {
        let inner = Rect::new(area.x + 2, first_row, area.width.saturating_sub(4), 1);
        frame.render_widget(
            Span::styled("no process matches the filter", t.dim()),
            inner,
        );
    }
}

/// Numbers right-aligned, like ps and htop.
fn cell_aligned(text: String, c: ProcColumn) -> Cell<'static> {
    use ProcColumn::*;
    let line = Line::from(text);
    Cell::from(match c {
        Pid | Ppid | Pgid | Sid | Tpgid | Cpu | Rss | NetUp | NetDown => line.right_aligned(),
        _ => line,
    })
}

fn row_style(app: &App, p: &Process) -> Style {
    let t = app.theme;
    if p.is_zombie() {
        t.danger()
    } else if app.relations.zombie_children.contains_key(&p.pid)
        || matches!(p.state, ProcState::Stopped | ProcState::TracingStop)
    {
        t.warn()
    } else if p.is_kernel_thread() {
        t.dim()
    } else if app.relations.roles_of(p).daemon {
        t.good()
    } else {
        Style::new()
    }
}

/// The command line as a person reads it: the program's name, not its path
/// (`tcplab demo zombie`, not `/home/you/tcplab/target/debug/tcplab demo zombie`).
pub(super) fn shown_command(p: &Process) -> String {
    let full = p.command();
    if !full.starts_with('/') {
        return full;
    }
    let (program, args) = full.split_once(' ').unwrap_or((full.as_str(), ""));
    let name = program.rsplit('/').next().unwrap_or(program);
    match args {
        "" => name.to_string(),
        args => format!("{name} {args}"),
    }
}

fn cell(app: &App, p: &Process, c: ProcColumn) -> String {
    match c {
        ProcColumn::Pid => p.pid.to_string(),
        ProcColumn::Ppid => p.ppid.to_string(),
        ProcColumn::Pgid => p.pgid.to_string(),
        ProcColumn::Sid => p.sid.to_string(),
        ProcColumn::Tty => p.tty.clone().unwrap_or_else(|| "?".into()),
        ProcColumn::Tpgid => p.tpgid.to_string(),
        ProcColumn::Stat => stat_string(p),
        ProcColumn::User => fit(
            &p.user
                .clone()
                .or_else(|| p.uid.map(|u| u.to_string()))
                .unwrap_or_else(|| "?".into()),
            8,
        ),
        ProcColumn::Cpu => app
            .cpu
            .get(&p.pid)
            .map(|c| format!("{c:.1}"))
            .unwrap_or_else(|| "-".into()),
        ProcColumn::Rss => {
            if p.rss_bytes == 0 {
                "0".into()
            } else {
                format_size(p.rss_bytes)
            }
        }
        ProcColumn::NetUp => rate_text(app.traffic.processes.get(&p.pid).map(|r| r.send)),
        ProcColumn::NetDown => rate_text(app.traffic.processes.get(&p.pid).map(|r| r.recv)),
        ProcColumn::Command => p.command(),
    }
}
