//! The process tree (parent -> children by ppid), flattened in display order the way
//! `ps --forest` and htop's tree view show it.

use std::collections::HashMap;

use super::Process;

/// One line of the tree: which process (index into the slice given) and how to indent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    pub index: usize,
    pub depth: usize,
    /// Box-drawing prefix for this row: `│  ├─ `; empty for roots.
    pub prefix: String,
}

/// Children of each pid, as indices into `procs`, in pid order.
pub fn children(procs: &[Process]) -> HashMap<i32, Vec<usize>> {
    let mut map: HashMap<i32, Vec<usize>> = HashMap::new();
    for (i, p) in procs.iter().enumerate() {
        if p.ppid != p.pid {
            map.entry(p.ppid).or_default().push(i);
        }
    }
    for kids in map.values_mut() {
        kids.sort_by_key(|&i| procs[i].pid);
    }
    map
}

/// Depth-first order: every root (a process whose parent is not in the list: PID 1, kthreadd,
/// or the top of what a filter kept), then its descendants under it.
pub fn tree_rows(procs: &[Process]) -> Vec<TreeRow> {
    let present: HashMap<i32, usize> = procs.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
    let kids = children(procs);
    let mut roots: Vec<usize> = (0..procs.len())
        .filter(|&i| {
            let p = &procs[i];
            p.ppid == p.pid || !present.contains_key(&p.ppid)
        })
        .collect();
    roots.sort_by_key(|&i| procs[i].pid);

    let mut rows = Vec::with_capacity(procs.len());
    let mut visited = vec![false; procs.len()];
    // (index, depth, whether each ancestor level still has siblings below, is last child)
    let mut stack: Vec<(usize, Vec<bool>, bool)> =
        roots.iter().rev().map(|&i| (i, Vec::new(), true)).collect();
    while let Some((i, open, last)) = stack.pop() {
        if std::mem::replace(&mut visited[i], true) {
            continue;
        }
        let depth = open.len();
        let mut prefix = String::new();
        if depth > 0 {
            for &more in &open[1..] {
                prefix.push_str(if more { "│  " } else { "   " });
            }
            prefix.push_str(if last { "└─ " } else { "├─ " });
        }
        rows.push(TreeRow {
            index: i,
            depth,
            prefix,
        });
        if let Some(children) = kids.get(&procs[i].pid) {
            let mut child_open = open.clone();
            child_open.push(!last);
            for (n, &c) in children.iter().enumerate().rev() {
                stack.push((c, child_open.clone(), n + 1 == children.len()));
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32) -> Process {
        Process {
            pid,
            ppid,
            comm: format!("p{pid}"),
            ..Default::default()
        }
    }

    #[test]
    fn orders_depth_first_with_prefixes() {
        let procs = vec![
            p(1, 0),
            p(10, 1),
            p(11, 10),
            p(12, 10),
            p(20, 1),
            p(2, 0),
            p(30, 2),
        ];
        let rows = tree_rows(&procs);
        let shown: Vec<String> = rows
            .iter()
            .map(|r| format!("{}{}", r.prefix, procs[r.index].pid))
            .collect();
        assert_eq!(
            shown,
            ["1", "├─ 10", "│  ├─ 11", "│  └─ 12", "└─ 20", "2", "└─ 30"]
        );
        assert_eq!(
            rows.iter().map(|r| r.depth).collect::<Vec<_>>(),
            [0, 1, 2, 2, 1, 0, 1]
        );
    }

    #[test]
    fn missing_parent_makes_a_root_and_self_parent_does_not_loop() {
        let procs = vec![p(5, 999), p(6, 5), p(7, 7)];
        let rows = tree_rows(&procs);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].depth, 0);
        assert_eq!(rows[1].depth, 1);
        assert_eq!(rows[2].depth, 0);
    }
}
