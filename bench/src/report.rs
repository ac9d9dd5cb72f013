//! The results tables: one row per figure, Palaver | Node | ratio; and Palaver beside the
//! stack's floor (bare socketioxide, a minimal Leptos page) with Palaver's overhead over it.

use std::fmt::Write as _;

/// Which way is better, for reading the ratio.
#[derive(Clone, Copy)]
pub(crate) enum Better {
    Higher,
    Lower,
}

pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) metric: String,
    pub(crate) palaver: Cell,
    pub(crate) node: Cell,
    pub(crate) better: Better,
}

#[derive(Clone)]
pub(crate) enum Cell {
    /// A figure; `lower_bound` when the generator, not the server, was the limit.
    Value {
        value: f64,
        unit: &'static str,
        lower_bound: bool,
    },
    Text(String),
    Missing,
}

impl Cell {
    pub(crate) fn of(value: f64, unit: &'static str) -> Cell {
        Cell::Value {
            value,
            unit,
            lower_bound: false,
        }
    }

    /// A count, shown whole.
    pub(crate) fn count(n: u64) -> Cell {
        Cell::Text(group(n as i64))
    }

    /// The figure as text, followed by whether it met its target: `"61,000 /s (met)"`.
    pub(crate) fn judged(self, met: bool) -> Cell {
        match self {
            Cell::Value { .. } => Cell::Text(format!(
                "{} ({})",
                self.show(),
                if met { "met" } else { "not met" }
            )),
            other => other,
        }
    }

    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            Cell::Value { value, .. } => Some(*value),
            _ => None,
        }
    }

    fn show(&self) -> String {
        match self {
            Cell::Value {
                value,
                unit,
                lower_bound,
            } => {
                let prefix = if *lower_bound { "≥ " } else { "" };
                let number = if value.abs() >= 100.0 {
                    group(value.round() as i64)
                } else if value.abs() >= 10.0 {
                    format!("{value:.1}")
                } else {
                    format!("{value:.2}")
                };
                format!(
                    "{prefix}{number}{}{unit}",
                    if unit.is_empty() { "" } else { " " }
                )
            }
            Cell::Text(t) => t.clone(),
            Cell::Missing => "—".to_owned(),
        }
    }
}

/// 1234567 as "1,234,567".
pub(crate) fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

impl Row {
    /// Palaver ÷ Node, turned so that above 1 always means Palaver is better.
    fn ratio(&self) -> String {
        match (self.palaver.number(), self.node.number()) {
            (Some(p), Some(n)) if p > 0.0 && n > 0.0 => {
                let r = match self.better {
                    Better::Higher => p / n,
                    Better::Lower => n / p,
                };
                format!("{r:.2}×")
            }
            _ => "—".to_owned(),
        }
    }
}

/// One figure of Palaver beside the same figure of the floor.
pub(crate) struct FloorRow {
    pub(crate) scenario: String,
    pub(crate) metric: String,
    pub(crate) palaver: Cell,
    pub(crate) floor: Cell,
    pub(crate) overhead: Overhead,
}

/// How Palaver's overhead over the floor reads.
#[derive(Clone, Copy)]
pub(crate) enum Overhead {
    /// Palaver − floor, in the figure's unit; with the target it should stay within, if any.
    Difference { target: Option<f64> },
    /// Palaver ÷ floor, for figures where higher is better (a knee).
    Share,
}

impl FloorRow {
    fn overhead(&self) -> String {
        let (Some(p), Some(f)) = (self.palaver.number(), self.floor.number()) else {
            return "—".to_owned();
        };
        let unit = match &self.palaver {
            Cell::Value { unit, .. } => *unit,
            _ => "",
        };
        match self.overhead {
            Overhead::Difference { target } => {
                let d = p - f;
                let sign = if d >= 0.0 { "+" } else { "" };
                let shown = Cell::of(d, unit).show();
                match target {
                    Some(t) => format!(
                        "{sign}{shown} (target ≤ {}: {})",
                        Cell::of(t, unit).show(),
                        if d <= t { "met" } else { "not met" }
                    ),
                    None => format!("{sign}{shown}"),
                }
            }
            Overhead::Share if f > 0.0 => format!("{:.0}% of the floor", p / f * 100.0),
            Overhead::Share => "—".to_owned(),
        }
    }
}

pub(crate) fn floor_table(rows: &[FloorRow]) -> String {
    let mut out = String::from(
        "| scenario | figure | Palaver | floor | Palaver's overhead |\n| --- | --- | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.scenario,
            r.metric,
            r.palaver.show(),
            r.floor.show(),
            r.overhead()
        );
    }
    out
}

pub(crate) fn table(rows: &[Row]) -> String {
    table_between(["Palaver", "Node"], rows)
}

/// [`table`] with other columns than Palaver's and Node's: a row's `palaver` is the first
/// column, its `node` the second.
pub(crate) fn table_between(columns: [&str; 2], rows: &[Row]) -> String {
    let [first, second] = columns;
    let mut out = format!(
        "| scenario | figure | {first} | {second} | ratio (>1: {first} better) |\n| --- | --- | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.scenario,
            r.metric,
            r.palaver.show(),
            r.node.show(),
            r.ratio()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_reads_the_same_way_for_both_directions() {
        let row = |better, p, n| Row {
            scenario: "s".into(),
            metric: "m".into(),
            palaver: Cell::of(p, "ms"),
            node: Cell::of(n, "ms"),
            better,
        };
        assert_eq!(row(Better::Higher, 300.0, 100.0).ratio(), "3.00×");
        assert_eq!(row(Better::Lower, 2.0, 10.0).ratio(), "5.00×");
        let mut missing = row(Better::Higher, 1.0, 1.0);
        missing.node = Cell::Missing;
        assert_eq!(missing.ratio(), "—");
        assert_eq!(
            Cell::of(61_234.4, "/s").judged(true).show(),
            "61,234 /s (met)"
        );
        assert_eq!(Cell::of(1.6, "×").judged(false).show(), "1.60 × (not met)");
        let t = table(&[row(Better::Higher, 1234567.0, 0.5)]);
        assert!(t.contains("| 1,234,567 ms | 0.50 ms |"), "{t}");
    }

    #[test]
    fn overhead_over_the_floor() {
        let floor = |p, f, overhead| FloorRow {
            scenario: "s".into(),
            metric: "m".into(),
            palaver: Cell::of(p, "KB"),
            floor: Cell::of(f, "KB"),
            overhead,
        };
        let within = Overhead::Difference { target: Some(2.0) };
        assert_eq!(
            floor(9.5, 8.0, within).overhead(),
            "+1.50 KB (target ≤ 2.00 KB: met)"
        );
        assert_eq!(
            floor(12.0, 8.0, within).overhead(),
            "+4.00 KB (target ≤ 2.00 KB: not met)"
        );
        assert_eq!(
            floor(7.0, 8.0, Overhead::Difference { target: None }).overhead(),
            "-1.00 KB"
        );
        assert_eq!(
            floor(450.0, 900.0, Overhead::Share).overhead(),
            "50% of the floor"
        );
        let mut missing = floor(1.0, 1.0, Overhead::Share);
        missing.floor = Cell::Missing;
        assert_eq!(missing.overhead(), "—");
    }
}
