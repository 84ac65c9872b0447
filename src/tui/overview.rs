//! The overview: on a terminal of 160×40 or more, every pane at once in its own box, as btop
//! shows its boxes (processes and sockets side by side, the state machine, the history and the
//! server below). Each pane keeps its keys: Tab, the number keys and a click move the focus,
//! and keys go to the focused box. `o` switches between the overview and one pane at a time;
//! a smaller terminal, or one with the lesson panel open, shows one pane at a time.
//!
//! Drawing (`render/overview.rs`), the keys' page size and the mouse all place the boxes with
//! [`boxes`], so a click lands on the row drawn there.

use ratatui::layout::Rect;

use super::app::App;
use super::layout;
use super::state::{Pane, StatusKind};

/// The smallest terminal that shows the overview.
pub const MIN_WIDTH: u16 = 160;
pub const MIN_HEIGHT: u16 = 40;

/// Where each box of the overview goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boxes {
    /// Each pane's box, in `Pane::ALL` order.
    pub panes: [Rect; 4],
    /// Sockets per state and transitions per second over time; shows, takes no keys.
    pub history: Rect,
}

impl Boxes {
    pub fn of(&self, pane: Pane) -> Rect {
        self.panes[pane.index()]
    }

    /// The pane whose box holds the cell (`x`, `y`).
    pub fn pane_at(&self, x: u16, y: u16) -> Option<Pane> {
        let hit = |r: &Rect| x >= r.x && x < r.right() && y >= r.y && y < r.bottom();
        Pane::ALL.into_iter().find(|p| hit(&self.of(*p)))
    }
}

/// The boxes of a terminal of `size` whose panes get `body`; None below the overview's size.
pub fn boxes(size: (u16, u16), body: Rect) -> Option<Boxes> {
    if size.0 < MIN_WIDTH || size.1 < MIN_HEIGHT || body.width < MIN_WIDTH {
        return None;
    }
    // The tables get a little more than half the height: they hold most rows.
    let top_h = body.height * 11 / 20;
    let bottom_h = body.height - top_h;
    let left_w = body.width / 2;
    let top = |x: u16, w: u16| Rect::new(x, body.y, w, top_h);
    let bottom = |x: u16, w: u16| Rect::new(x, body.y + top_h, w, bottom_h);
    // The state machine needs 80 columns for its diagram.
    let machine_w = (body.width * 2 / 5).max(80);
    let history_w = (body.width / 5).max(36);
    let server_w = body.width - machine_w - history_w;
    Some(Boxes {
        panes: [
            top(body.x, left_w),
            top(body.x + left_w, body.width - left_w),
            bottom(body.x, machine_w),
            bottom(body.x + machine_w + history_w, server_w),
        ],
        history: bottom(body.x + machine_w, history_w),
    })
}

impl App {
    /// The overview's boxes when it is on and the terminal has room for it.
    pub fn overview(&self) -> Option<Boxes> {
        if !self.overview_wanted {
            return None;
        }
        let a = self.areas();
        match a.lesson {
            Some(_) => None,
            None => boxes(self.size, a.body),
        }
    }

    /// The screen's areas now.
    pub fn areas(&self) -> layout::Areas {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        layout::areas_with(area, self.lesson_visible())
    }

    /// Every pane on screen now with the area it is drawn in: the four boxes of the overview,
    /// or the focused pane.
    pub fn shown_panes(&self) -> Vec<(Pane, Rect)> {
        match self.overview() {
            Some(b) => Pane::ALL.into_iter().map(|p| (p, b.of(p))).collect(),
            None => vec![(self.pane, self.areas().body)],
        }
    }

    /// The area `pane` is drawn in, or would be if it had the focus.
    pub fn pane_area(&self, pane: Pane) -> Rect {
        match self.overview() {
            Some(b) => b.of(pane),
            None => self.areas().body,
        }
    }

    /// Whether the terminal has room for the overview now (whether it is on or not).
    pub fn overview_fits(&self) -> bool {
        !self.lesson_visible() && boxes(self.size, self.areas().body).is_some()
    }

    /// `o`: the overview on or off, where the terminal has room for it.
    pub(super) fn toggle_overview(&mut self) {
        if !self.overview_fits() {
            self.say(
                StatusKind::Info,
                format!(
                    "the overview needs {MIN_WIDTH}x{MIN_HEIGHT} without the lesson panel (this terminal: {}x{})",
                    self.size.0, self.size.1
                ),
            );
            return;
        }
        self.overview_wanted = !self.overview_wanted;
        let text = match self.overview_wanted {
            true => "overview: every pane at once (o: one pane)",
            false => "one pane at a time (o: overview)",
        };
        self.say(StatusKind::Info, text.to_string());
        self.recompute_rows();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boxes_tile_the_body_without_overlap() {
        let body = Rect::new(0, 4, 160, 34);
        let b = boxes((160, 40), body).expect("160x40 has the overview");
        let mut all: Vec<Rect> = b.panes.to_vec();
        all.push(b.history);
        let area: u32 = all.iter().map(|r| r.area()).sum();
        assert_eq!(area, body.area());
        for (i, r) in all.iter().enumerate() {
            assert!(body.contains(r.as_position()) && r.right() <= body.right());
            for s in &all[i + 1..] {
                assert!(!r.intersects(*s), "{r:?} overlaps {s:?}");
            }
        }
        assert_eq!(b.pane_at(0, 4), Some(Pane::Processes));
        assert_eq!(b.pane_at(159, 4), Some(Pane::Sockets));
        assert_eq!(b.pane_at(0, 37), Some(Pane::Machine));
        assert_eq!(b.pane_at(159, 37), Some(Pane::Server));
        assert_eq!(b.pane_at(b.history.x, b.history.y), None);
    }

    #[test]
    fn smaller_terminals_keep_one_pane() {
        assert!(boxes((159, 40), Rect::new(0, 4, 159, 34)).is_none());
        assert!(boxes((160, 39), Rect::new(0, 4, 160, 33)).is_none());
    }
}
