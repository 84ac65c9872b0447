//! Text that another process controls, made safe to print: a process may name itself
//! `new\nline` or `\e[31mred` (prctl PR_SET_NAME, its argv, its executable's name), and printed
//! raw that splits rows of a table and sends escape sequences to the terminal of whoever looks,
//! root included. [`printable`] is the one place that decides how such text is shown, for the
//! commands' text output and the dashboard alike; JSON output keeps the real bytes (its string
//! escaping is already exact).

use std::borrow::Cow;

/// `s` with every character that is not safe to print replaced by `?`, as procps `ps` does:
/// control characters (C0, DEL, C1: newlines, tabs, ESC) and the bidirectional overrides
/// and isolates, which reorder what follows them on the line. One `?` per character, so
/// columns stay as wide as the name.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if unsafe_char(c) { '?' } else { c })
            .collect(),
    )
}

/// The start of `line` that fits in `width` terminal columns (a CJK character takes two), cut
/// as procps `ps` cuts a row at the terminal's edge: no mark, a wide character that would
/// straddle the edge left out.
pub fn cut_to_columns(line: &str, width: usize) -> &str {
    use unicode_width::UnicodeWidthChar;
    let mut used = 0;
    for (i, c) in line.char_indices() {
        used += c.width().unwrap_or(0);
        if used > width {
            return &line[..i];
        }
    }
    line
}

fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_become_question_marks() {
        assert!(matches!(printable("nginx: worker"), Cow::Borrowed(_)));
        assert_eq!(printable("new\nline"), "new?line");
        assert_eq!(printable("\x1b[31mred\x1b[0m"), "?[31mred?[0m");
        assert_eq!(printable("tab\there\r\u{7f}\u{85}"), "tab?here???");
        assert_eq!(printable("abc\u{202E}gpj.exe"), "abc?gpj.exe");
        assert_eq!(printable("ünïcode 名前"), "ünïcode 名前");
    }

    #[test]
    fn cut_by_terminal_columns() {
        assert_eq!(cut_to_columns("short", 10), "short");
        assert_eq!(cut_to_columns("exactly10!", 10), "exactly10!");
        assert_eq!(cut_to_columns("one two three", 7), "one two");
        assert_eq!(cut_to_columns("名前です", 5), "名前");
        assert_eq!(cut_to_columns("anything", 0), "");
    }
}
