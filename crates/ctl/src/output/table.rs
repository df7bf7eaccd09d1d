//! etcdctl's `table` format: olekukonko/tablewriter with upper-case
//! centred headers and right-aligned cells.

/// Renders `header` and `rows` as tablewriter does with `ALIGN_RIGHT`.
pub(super) fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let titles: Vec<String> = header.iter().map(|title| title.to_uppercase()).collect();
    let widths: Vec<usize> = titles
        .iter()
        .enumerate()
        .map(|(column, title)| {
            let cells = rows
                .iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count());
            cells
                .chain(std::iter::once(title.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let border: String = widths
        .iter()
        .map(|width| format!("+{}", "-".repeat(width + 2)))
        .collect::<String>()
        + "+\n";
    let mut out = border.clone();
    for (title, width) in titles.iter().zip(&widths) {
        let gap = width - title.chars().count();
        let left = gap / 2;
        out.push_str(&format!(
            "| {}{}{} ",
            " ".repeat(left),
            title,
            " ".repeat(gap - left)
        ));
    }
    out.push_str("|\n");
    out.push_str(&border);
    for row in rows {
        for (column, width) in widths.iter().enumerate() {
            let cell = row.get(column).map_or("", String::as_str);
            out.push_str(&format!("| {cell:>width$} "));
        }
        out.push_str("|\n");
    }
    // tablewriter draws the bottom border even under an empty table.
    out.push_str(&border);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from etcdctl 3.4.23 `endpoint health -w table`.
    #[test]
    fn renders_like_tablewriter() {
        let rows = vec![vec![
            "127.0.0.1:32379".to_owned(),
            "true".to_owned(),
            "1.275708ms".to_owned(),
            String::new(),
        ]];
        let expected = "\
+-----------------+--------+------------+-------+
|    ENDPOINT     | HEALTH |    TOOK    | ERROR |
+-----------------+--------+------------+-------+
| 127.0.0.1:32379 |   true | 1.275708ms |       |
+-----------------+--------+------------+-------+
";
        assert_eq!(
            render(&["endpoint", "health", "took", "error"], &rows),
            expected
        );
    }
}
