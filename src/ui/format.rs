//! Text formatting for the pages: durations, percentages, counts, truncation.

/// "850ms", "4.2s", "1m 05s", "2h 03m".
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m {:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h {:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// Whole percent, never rounding up to 100 before the work is done.
pub fn percent(p: f64) -> String {
    format!("{}%", p.clamp(0.0, 100.0).floor() as u32)
}

/// "1,234,567".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "512 MB", "3.1 GB": bytes in binary units, one decimal from GB on.
pub fn bytes(n: u64) -> String {
    const GB: f64 = 1024.0 * 1024.0 * 1024.0;
    let n = n as f64;
    if n >= GB {
        format!("{:.1} GB", n / GB)
    } else {
        format!("{:.0} MB", n / (1024.0 * 1024.0))
    }
}

/// Cuts `text` to at most `max` characters, ending with "…" when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// "14:03:27" (UTC) for start and finish times.
pub fn clock(ts: chrono::DateTime<chrono::Utc>) -> String {
    ts.format("%H:%M:%S UTC").to_string()
}

/// "2026-12-02 14:03:27 UTC" for audit entries, which span days.
pub fn date_time(ts: chrono::DateTime<chrono::Utc>) -> String {
    ts.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The page title as it must be written. leptos_meta puts the title into the server's HTML
/// without escaping it, so there it is escaped here; in the browser it is set as
/// `document.title`, which is plain text.
pub fn title_text(text: String) -> String {
    if cfg!(feature = "ssr") {
        escape_html(&text)
    } else {
        text
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(4_200), "4.2s");
        assert_eq!(duration(65_000), "1m 05s");
        assert_eq!(duration(7_380_000), "2h 03m");
        assert_eq!(percent(99.9), "99%");
        assert_eq!(percent(100.0), "100%");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(truncate("Deploy web service", 10), "Deploy we…");
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(
            escape_html("</title><img src=x onerror=\"alert('1')\">&"),
            "&lt;/title&gt;&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }
}
