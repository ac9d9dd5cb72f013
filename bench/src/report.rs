//! The results table: one row per figure, Palaver | Node | ratio.

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

    fn number(&self) -> Option<f64> {
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
fn group(n: i64) -> String {
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

pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | figure | Palaver | Node | ratio (>1: Palaver better) |\n| --- | --- | ---: | ---: | ---: |\n",
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
        let t = table(&[row(Better::Higher, 1234567.0, 0.5)]);
        assert!(t.contains("| 1,234,567 ms | 0.50 ms |"), "{t}");
    }
}
