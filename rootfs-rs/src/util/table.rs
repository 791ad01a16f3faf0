//! Aligned text tables (lsblk, df): each column as wide as its widest cell in characters,
//! one space apart, numbers right-aligned where the caller says so. The last column is not
//! padded and trailing blanks are trimmed, so lines end with their text.

/// How one column's cells sit in their width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// `rows` (the header first, if any) as lines; `align(column)` says where each column's
/// cells go.
pub fn table(rows: &[Vec<String>], align: impl Fn(usize) -> Align) -> Vec<String> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                let pad = " ".repeat(widths[c] - cell.chars().count());
                if c > 0 {
                    line.push(' ');
                }
                match align(c) {
                    Align::Right => {
                        line.push_str(&pad);
                        line.push_str(cell);
                    }
                    Align::Left => {
                        line.push_str(cell);
                        if c + 1 < cols {
                            line.push_str(&pad);
                        }
                    }
                }
            }
            line.truncate(line.trim_end().len());
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_by_characters() {
        let rows = vec![
            vec!["NAME".to_string(), "SIZE".into(), "MOUNTPOINTS".into()],
            vec!["└─vda1".to_string(), "512M".into(), "".into()],
        ];
        let lines = table(&rows, |c| if c == 1 { Align::Right } else { Align::Left });
        assert_eq!(lines, ["NAME   SIZE MOUNTPOINTS", "└─vda1 512M"]);
    }
}
