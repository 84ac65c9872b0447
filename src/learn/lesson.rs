//! One lesson as its data file says it: a title, a few paragraphs of explanation, then steps,
//! each naming one action (a dashboard key, a command to run elsewhere) and the check that
//! watches the kernel for its effect.
//!
//! The file format (one file per lesson and language, under `assets/lessons/`):
//!
//! ```text
//! id: zombies
//! number: 8
//! title: Zombies: children nobody waited for
//!
//! Paragraphs of explanation, separated by blank lines.
//!
//! ## step make
//! title: Make three zombies
//! key: z
//! run: tcplab demo zombie
//! check: zombies min=3 cmd="demo zombie"
//!
//! What to look at, in a paragraph or two.
//! ```
//!
//! Header lines are `name: value` up to the first blank line. `key`, `run` and `check` say what
//! happens, so they are the same in every language; `title` and the texts are translated.
//! Commands may name `{port}` (the lesson's port) and facts earlier checks found (`{parent}`).

use std::fmt;

use super::check::Check;

#[derive(Debug, Clone, PartialEq)]
pub struct Lesson {
    pub id: String,
    /// The row of the README's Lessons table.
    pub number: u32,
    pub title: String,
    /// Paragraphs, each one line of text.
    pub paragraphs: Vec<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub title: String,
    /// A dashboard key that does the step's action.
    pub key: Option<String>,
    /// A command to run in another terminal.
    pub run: Option<String>,
    pub check: Check,
    pub paragraphs: Vec<String>,
}

impl Step {
    /// What a translation must keep: the id, the action and the check.
    pub fn shape(&self) -> (String, Option<String>, Option<String>, String) {
        (
            self.id.clone(),
            self.key.clone(),
            self.run.clone(),
            self.check.to_string(),
        )
    }
}

/// Why a lesson file does not parse: its line and what is wrong there.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for ParseError {}

fn err(line: usize, what: impl Into<String>) -> ParseError {
    ParseError {
        line,
        what: what.into(),
    }
}

/// A block of the file: its `name: value` header (with line numbers) and its paragraphs.
struct Block {
    start: usize,
    header: Vec<(usize, String, String)>,
    paragraphs: Vec<String>,
}

impl Block {
    fn take(&mut self, name: &str) -> Option<(usize, String)> {
        let at = self.header.iter().position(|(_, n, _)| n == name)?;
        let (line, _, value) = self.header.remove(at);
        Some((line, value))
    }

    fn need(&mut self, name: &str) -> Result<(usize, String), ParseError> {
        self.take(name)
            .ok_or_else(|| err(self.start, format!("`{name}:` is missing")))
    }

    fn no_more(&self) -> Result<(), ParseError> {
        match self.header.first() {
            Some((line, name, _)) => Err(err(*line, format!("unknown field `{name}`"))),
            None => Ok(()),
        }
    }
}

/// Splits the text into the lesson's block and one block per `## step ID`.
fn blocks(text: &str) -> Result<Vec<(Option<String>, Block)>, ParseError> {
    let mut out: Vec<(Option<String>, Block)> = Vec::new();
    let mut current = (
        None,
        Block {
            start: 1,
            header: Vec::new(),
            paragraphs: Vec::new(),
        },
    );
    let mut in_header = true;
    let mut para = String::new();
    let end_para = |para: &mut String, block: &mut Block| {
        if !para.is_empty() {
            block.paragraphs.push(std::mem::take(para));
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end();
        if let Some(rest) = line.strip_prefix("## step") {
            end_para(&mut para, &mut current.1);
            let id = rest.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(err(n, format!("step id `{id}` is not [a-z0-9-]+")));
            }
            let done = std::mem::replace(
                &mut current,
                (
                    Some(id.to_string()),
                    Block {
                        start: n,
                        header: Vec::new(),
                        paragraphs: Vec::new(),
                    },
                ),
            );
            out.push(done);
            in_header = true;
            continue;
        }
        if in_header {
            if line.is_empty() {
                in_header = false;
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(err(n, "expected `name: value` before the first blank line"));
            };
            current
                .1
                .header
                .push((n, name.trim().to_string(), value.trim().to_string()));
            continue;
        }
        if line.is_empty() {
            end_para(&mut para, &mut current.1);
        } else {
            if !para.is_empty() {
                para.push(' ');
            }
            para.push_str(line.trim());
        }
    }
    end_para(&mut para, &mut current.1);
    out.push(current);
    Ok(out)
}

/// Parses one lesson file.
pub fn parse(text: &str) -> Result<Lesson, ParseError> {
    let mut blocks = blocks(text)?.into_iter();
    let (_, mut head) = blocks.next().ok_or_else(|| err(1, "empty file"))?;
    let (_, id) = head.need("id")?;
    let (line, number) = head.need("number")?;
    let number = number
        .parse()
        .map_err(|_| err(line, format!("number `{number}` is not a number")))?;
    let (_, title) = head.need("title")?;
    head.no_more()?;
    if head.paragraphs.is_empty() {
        return Err(err(head.start, "the lesson has no explanation"));
    }
    let mut steps: Vec<Step> = Vec::new();
    for (step_id, mut block) in blocks {
        let step_id = step_id.unwrap_or_default();
        if steps.iter().any(|s| s.id == step_id) {
            return Err(err(block.start, format!("step `{step_id}` twice")));
        }
        let (_, title) = block.need("title")?;
        let key = block.take("key").map(|(_, v)| v);
        let run = block.take("run").map(|(_, v)| v);
        let (line, check) = block.need("check")?;
        let check = check
            .parse::<Check>()
            .map_err(|e| err(line, e.to_string()))?;
        block.no_more()?;
        if key.is_none() && run.is_none() {
            return Err(err(block.start, "a step needs a `key:` or a `run:`"));
        }
        steps.push(Step {
            id: step_id,
            title,
            key,
            run,
            check,
            paragraphs: block.paragraphs,
        });
    }
    if steps.is_empty() {
        return Err(err(1, "the lesson has no steps"));
    }
    Ok(Lesson {
        id,
        number,
        title,
        paragraphs: head.paragraphs,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "id: zombies\nnumber: 8\ntitle: Zombies\n\nFirst paragraph\ncontinues.\n\nSecond.\n\n## step make\ntitle: Make them\nkey: z\nrun: tcplab demo zombie\ncheck: zombies min=3 cmd=\"demo zombie\"\n\nWatch the Z.\n";

    #[test]
    fn reads_header_paragraphs_and_steps() {
        let l = parse(SAMPLE).unwrap();
        assert_eq!(l.id, "zombies");
        assert_eq!(l.number, 8);
        assert_eq!(l.paragraphs, ["First paragraph continues.", "Second."]);
        assert_eq!(l.steps.len(), 1);
        let s = &l.steps[0];
        assert_eq!(s.id, "make");
        assert_eq!(s.key.as_deref(), Some("z"));
        assert_eq!(s.run.as_deref(), Some("tcplab demo zombie"));
        assert_eq!(s.check.to_string(), "zombies min=3 cmd=\"demo zombie\"");
        assert_eq!(s.paragraphs, ["Watch the Z."]);
    }

    #[test]
    fn says_which_line_is_wrong() {
        let bad = SAMPLE.replace("check: zombies", "check: zombiez");
        assert_eq!(parse(&bad).unwrap_err().line, 14);
        let bad = SAMPLE.replace("key: z\n", "colour: red\n");
        assert!(parse(&bad).unwrap_err().what.contains("colour"));
        let bad = SAMPLE.replace("key: z\nrun: tcplab demo zombie\n", "");
        assert!(parse(&bad).unwrap_err().what.contains("key"));
        assert!(parse("").is_err());
        assert!(parse("id: x\nnumber: q\ntitle: t\n\nx\n").is_err());
    }
}
