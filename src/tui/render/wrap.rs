//! Text cut into lines of a box's width, measured in terminal columns: a CJK character takes
//! two, and Chinese, written without spaces, may break between any two characters (but not
//! before its closing punctuation, `，` `。` `）`). Used wherever the dashboard wraps prose
//! itself (help, a demo's output, the lesson panel), so no line runs into a box's border.

use unicode_width::UnicodeWidthChar;

fn width_of(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// A character after which a line may break without a space: a wide (CJK) one.
fn breaks_after(c: char) -> bool {
    width_of(c) == 2
}

/// Punctuation that must not begin a line: it stays with the character before it.
fn closing(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '、'
            | '；'
            | '：'
            | '？'
            | '！'
            | '）'
            | '」'
            | '』'
            | '》'
            | '】'
            | '”'
            | '’'
    )
}

/// The pieces a line may break between: runs of narrow characters, and each wide character
/// with the closing punctuation after it.
fn pieces(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = word.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let end = i + c.len_utf8();
        let cut = match next {
            None => true,
            Some(n) if closing(n) => false,
            Some(n) => breaks_after(c) || breaks_after(n),
        };
        if cut {
            out.push(&word[start..end]);
            start = end;
        }
    }
    out
}

fn columns(s: &str) -> usize {
    s.chars().map(width_of).sum()
}

/// Cuts `text` into lines of at most `width` columns at spaces, and between CJK characters; a
/// word longer than the line is split where it must be. Runs of spaces become one.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(2);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split_whitespace() {
        let mut gap = usize::from(used > 0);
        for piece in pieces(word) {
            let w = columns(piece);
            if used + gap + w > width && used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
                gap = 0;
            }
            if gap == 1 {
                line.push(' ');
                used += 1;
            }
            gap = 0;
            for c in piece.chars() {
                let cw = width_of(c);
                if used + cw > width && used > 0 {
                    lines.push(std::mem::take(&mut line));
                    used = 0;
                }
                line.push(c);
                used += cw;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `line` wrapped to `width`, its indentation kept on every piece.
pub fn wrap_indented(line: &str, width: usize) -> Vec<String> {
    let indent = line.len() - line.trim_start().len();
    let pad = " ".repeat(indent.min(width / 2));
    wrap(line.trim_start(), width.saturating_sub(pad.len()))
        .into_iter()
        .map(|piece| format!("{pad}{piece}"))
        .collect()
}

/// `text` cut to `width` columns, with `…` where it was cut (after the last whole word when
/// there is one in the line's second half, so no word is left cut in two).
pub fn fit_columns(text: &str, width: usize) -> String {
    if columns(text) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = width_of(c);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if let Some(space) = out.rfind(' ').filter(|&i| i > out.len() / 2) {
        out.truncate(space);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_at_spaces_long_ones_split() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a  b", 10), ["a b"]);
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn chinese_by_columns_never_before_closing_punctuation() {
        let lines = wrap(
            "演示在每一步之后打印 pid、ppid，最后那个进程就是守护进程。",
            10,
        );
        for l in &lines {
            assert!(columns(l) <= 10, "{l:?} in {lines:?}");
            let first = l.chars().next().unwrap();
            assert!(!closing(first), "{l:?} begins with closing punctuation");
        }
        assert_eq!(
            lines.concat().replace(' ', ""),
            "演示在每一步之后打印pid、ppid，最后那个进程就是守护进程。"
        );
        // Two columns a character: five to a line of ten.
        assert_eq!(wrap("一二三四五六七", 10), ["一二三四五", "六七"]);
        // Mixed: the ASCII word stays whole.
        assert_eq!(wrap("运行：tcplab demo", 12), ["运行：tcplab", "demo"]);
    }

    #[test]
    fn cut_to_the_columns_after_a_whole_word() {
        assert_eq!(fit_columns("short", 10), "short");
        assert_eq!(
            fit_columns("they adopted them and called wait()", 24),
            "they adopted them and…"
        );
        assert!(columns(&fit_columns("父进程已经不在了它的僵尸进程也没了", 9)) <= 9);
    }

    #[test]
    fn indentation_is_kept() {
        assert_eq!(
            wrap_indented("   one two three", 10),
            ["   one two", "   three"]
        );
    }
}
