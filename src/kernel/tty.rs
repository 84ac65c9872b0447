//! Naming a controlling terminal from the `tty_nr` of /proc/PID/stat, as ps prints it; and
//! the width of the terminal our own output goes to.

/// The columns of the terminal stdout writes to; None when stdout is not a terminal (a pipe,
/// a file) or the terminal does not say (a width of 0).
pub fn stdout_columns() -> Option<usize> {
    let out = std::io::stdout();
    if !rustix::termios::isatty(&out) {
        return None;
    }
    let size = rustix::termios::tcgetwinsize(&out).ok()?;
    (size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// Splits the kernel's encoded device number into (major, minor).
pub fn major_minor(tty_nr: i32) -> (u32, u32) {
    let n = tty_nr as u32;
    ((n >> 8) & 0xfff, (n & 0xff) | ((n >> 12) & 0xfff00))
}

/// `pts/3`, `tty1`, `ttyS0`, `console`; None for 0 (no controlling terminal). Devices this
/// table does not know are written `major:minor`.
pub fn tty_name(tty_nr: i32) -> Option<String> {
    if tty_nr == 0 {
        return None;
    }
    let (major, minor) = major_minor(tty_nr);
    Some(match major {
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 0 => "tty".to_string(),
        5 if minor == 1 => "console".to_string(),
        5 if minor == 2 => "ptmx".to_string(),
        204 if minor >= 64 => format!("ttyAMA{}", minor - 64),
        188 => format!("ttyUSB{minor}"),
        166 => format!("ttyACM{minor}"),
        _ => format!("{major}:{minor}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_common_terminals() {
        assert_eq!(tty_name(0), None);
        assert_eq!(tty_name(34816).as_deref(), Some("pts/0"));
        assert_eq!(tty_name(34819).as_deref(), Some("pts/3"));
        assert_eq!(tty_name(1025).as_deref(), Some("tty1"));
        assert_eq!(tty_name(1088).as_deref(), Some("ttyS0"));
        assert_eq!(tty_name(1281).as_deref(), Some("console"));
        // pts numbers past 255 spill into the next major and the high minor bits.
        assert_eq!(major_minor(35072), (137, 0));
        assert_eq!(tty_name(35072).as_deref(), Some("pts/256"));
    }
}
