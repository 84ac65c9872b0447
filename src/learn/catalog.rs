//! The lessons, built into the binary from `assets/lessons/NAME.LANG.md` (one file per lesson
//! and language), so `tcplab learn` needs nothing beside itself.

use super::lang::Lang;
use super::lesson::{parse, Lesson};

macro_rules! lessons {
    ($($stem:literal),* $(,)?) => {
        /// (file stem, English text, Chinese text), in lesson order.
        pub const FILES: &[(&str, &str, &str)] = &[$(
            (
                $stem,
                include_str!(concat!("../../assets/lessons/", $stem, ".en.md")),
                include_str!(concat!("../../assets/lessons/", $stem, ".zh.md")),
            ),
        )*];
    };
}

lessons!(
    "01-sockets",
    "02-handshake",
    "03-teardown",
    "04-state-diagram",
    "05-iterative",
    "06-one-call",
    "07-fork",
    "08-zombies",
    "09-prefork",
    "10-scaling",
    "11-blocking",
    "12-select",
    "13-epoll",
    "14-ids",
    "15-daemon",
    "16-signals",
    "17-signal-loop",
    "18-complete-server",
    "19-uring",
);

/// Every lesson in `lang`, in order. The files are part of the binary and a test parses them
/// all, so a failure here is a build that should not have passed its tests.
pub fn lessons(lang: Lang) -> Vec<Lesson> {
    FILES
        .iter()
        .map(|(stem, en, zh)| {
            let text = lang.pick(en, zh);
            parse(text).unwrap_or_else(|e| panic!("assets/lessons/{stem}.{lang}.md: {e}"))
        })
        .collect()
}

/// A lesson by its id (`zombies`) or number (`8`).
pub fn find<'a>(lessons: &'a [Lesson], name: &str) -> Option<&'a Lesson> {
    let name = name.trim();
    lessons
        .iter()
        .find(|l| l.id == name || name.parse::<u32>().is_ok_and(|n| n == l.number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_in_both_languages_with_the_same_steps() {
        let en = lessons(Lang::En);
        let zh = lessons(Lang::Zh);
        assert_eq!(en.len(), 19);
        for (i, (e, z)) in en.iter().zip(&zh).enumerate() {
            assert_eq!(e.number as usize, i + 1, "{}: lessons are in order", e.id);
            assert_eq!((&e.id, e.number), (&z.id, z.number));
            assert_ne!(
                e.title, z.title,
                "{}: the Chinese title is translated",
                e.id
            );
            let shape = |l: &Lesson| l.steps.iter().map(|s| s.shape()).collect::<Vec<_>>();
            assert_eq!(shape(e), shape(z), "{}: the same steps in both", e.id);
            assert_eq!(e.paragraphs.len(), z.paragraphs.len(), "{}", e.id);
            for (se, sz) in e.steps.iter().zip(&z.steps) {
                assert_eq!(
                    se.paragraphs.len(),
                    sz.paragraphs.len(),
                    "{}/{}",
                    e.id,
                    se.id
                );
            }
        }
        let ids: std::collections::BTreeSet<_> = en.iter().map(|l| &l.id).collect();
        assert_eq!(ids.len(), en.len(), "lesson ids are unique");
    }

    #[test]
    fn every_file_under_assets_lessons_is_built_in() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/lessons");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut built: Vec<String> = FILES
            .iter()
            .flat_map(|(stem, _, _)| [format!("{stem}.en.md"), format!("{stem}.zh.md")])
            .collect();
        built.sort();
        assert_eq!(on_disk, built);
    }

    #[test]
    fn finds_by_id_or_number() {
        let en = lessons(Lang::En);
        assert_eq!(find(&en, "zombies").unwrap().number, 8);
        assert_eq!(find(&en, "8").unwrap().id, "zombies");
        assert!(find(&en, "99").is_none());
        assert!(find(&en, "").is_none());
    }
}
