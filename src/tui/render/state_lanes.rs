//! The State machine pane's compact diagram, for terminals too small for the boxes and arrows
//! (80×24 among them): the same states and edges as lanes, one line per path a connection
//! takes — the two opens and the three closes — each state with its live count the first time
//! it appears, each edge lit for a few refreshes after a socket took it.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::model::counts::StateCounts;
use crate::model::TcpState;
use crate::tui::theme::Theme;

use TcpState::*;

/// A lane: its name, and where it starts — a state, or under a state of the lane above
/// (drawn `└─▶`) — then the states it goes through.
struct Lane {
    name: &'static str,
    under: Option<TcpState>,
    states: &'static [TcpState],
}

const LANES: [Lane; 5] = [
    Lane {
        name: "passive open",
        under: None,
        states: &[Close, Listen, SynRecv, Established],
    },
    Lane {
        name: "active open",
        under: None,
        states: &[Close, SynSent, Established],
    },
    Lane {
        name: "active close",
        under: None,
        states: &[Established, FinWait1, FinWait2, TimeWait, Close],
    },
    Lane {
        name: "both close",
        under: Some(FinWait1),
        states: &[Closing, TimeWait],
    },
    Lane {
        name: "passive close",
        under: None,
        states: &[Established, CloseWait, LastAck, Close],
    },
];

/// Lines the compact diagram takes.
pub const HEIGHT: u16 = LANES.len() as u16;
/// Columns of the lane names, drawn when the width allows.
const NAME_W: usize = 14;
/// Width without lane names, with counts of up to five digits.
pub const MIN_WIDTH: u16 = 72;

/// The compact diagram, `width` columns wide at most. `lit` holds the diagram's edges taken
/// recently with their age in refreshes.
pub fn lines(
    theme: Theme,
    counts: &StateCounts,
    lit: &[(TcpState, TcpState, u64)],
    width: usize,
) -> Vec<Line<'static>> {
    let names = width >= MIN_WIDTH as usize + NAME_W;
    let count = |st: TcpState| {
        counts.get(st)
            + if st == SynRecv {
                counts.get(NewSynRecv)
            } else {
                0
            }
    };
    let mut counted: Vec<TcpState> = Vec::new();
    let mut lines = Vec::new();
    // Where each state of the previous lane starts, for a lane that branches off it.
    let mut columns: Vec<(TcpState, usize)> = Vec::new();
    for lane in &LANES {
        let mut spans: Vec<Span<'static>> = Vec::new();
        let push = |spans: &mut Vec<Span<'static>>, text: String, style: Style| {
            spans.push(Span::styled(text, style));
        };
        let x = |spans: &[Span]| {
            spans
                .iter()
                .map(|s| s.content.chars().count())
                .sum::<usize>()
        };
        if names {
            push(&mut spans, format!("{:<NAME_W$}", lane.name), theme.dim());
        }
        let mut prev = None;
        if let Some(from) = lane.under {
            let now = x(&spans);
            let at = columns
                .iter()
                .find(|(st, _)| *st == from)
                .map_or(now, |(_, c)| *c + 1);
            push(&mut spans, " ".repeat(at.saturating_sub(now)), Style::new());
            prev = Some(from);
        }
        let mut here = Vec::new();
        for &st in lane.states {
            if let Some(from) = prev {
                let edge_style = match lit.iter().find(|(a, b, _)| (*a, *b) == (from, st)) {
                    Some((_, _, age)) => theme.lit_aged(*age),
                    None => theme.dim(),
                };
                let arrow = if lane.under.is_some() && here.is_empty() {
                    "└─▶ "
                } else {
                    " ─▶ "
                };
                push(&mut spans, arrow.to_string(), edge_style);
            }
            here.push((st, x(&spans)));
            let n = count(st);
            let entered = lit.iter().any(|(_, to, age)| *to == st && *age == 0);
            let style = if entered {
                theme.lit()
            } else if n > 0 {
                theme.accent()
            } else {
                Style::new()
            };
            let text = if counted.contains(&st) {
                st.kernel_name().to_string()
            } else {
                counted.push(st);
                format!("{} {n}", st.kernel_name())
            };
            push(&mut spans, text, style);
            prev = Some(st);
        }
        columns = here;
        lines.push(Line::from(spans));
    }
    lines
}
