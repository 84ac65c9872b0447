//! Colours, or none: with NO_COLOR set (https://no-color.org) every style falls back to bold,
//! reverse and underline, so the screen still says the same things.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme { color: true }
    }
}

impl Theme {
    /// Colour unless NO_COLOR is set to a non-empty value.
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    fn fg(self, c: Color, fallback: Modifier) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new().add_modifier(fallback)
        }
    }

    /// Zombies, errors: red.
    pub fn danger(self) -> Style {
        self.fg(Color::Red, Modifier::BOLD)
    }
    /// Parents of zombies, stopped processes, warnings.
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow, Modifier::UNDERLINED)
    }
    /// Daemons, listening sockets, things that are fine.
    pub fn good(self) -> Style {
        self.fg(Color::Green, Modifier::empty())
    }
    pub fn accent(self) -> Style {
        self.fg(Color::Cyan, Modifier::BOLD)
    }
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }
    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn selected(self) -> Style {
        if self.color {
            Style::new().bg(Color::Blue).fg(Color::White)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    /// An edge of the state diagram that a recent transition took.
    /// A lit edge fading with its age in refreshes: bright when just taken, then dimmer.
    pub fn lit_aged(self, age: u64) -> Style {
        match (age, self.color) {
            (0, _) => self.lit(),
            (1, true) => Style::new().fg(Color::Yellow),
            (1, false) => Style::new(),
            (_, true) => Style::new().fg(Color::Indexed(136)),
            (_, false) => Style::new().add_modifier(Modifier::DIM),
        }
    }

    pub fn lit(self) -> Style {
        if self.color {
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
}
