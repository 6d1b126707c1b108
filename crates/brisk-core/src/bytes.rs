//! Byte sizes written by people: `4GB`, `512 MiB`, `1.5 GB`, `1000000`.

/// Parse a byte size: a number (fractions allowed) and an optional unit, decimal (`kB`, `MB`,
/// `GB`, `TB`, or just `k`/`M`/`G`/`T`) or binary (`KiB`, `MiB`, `GiB`, `TiB`), case-insensitive.
/// `None` for anything else, and for negative or non-finite numbers.
///
/// ```
/// use brisk_core::bytes::parse_bytes;
/// assert_eq!(parse_bytes("4GB"), Some(4_000_000_000));
/// assert_eq!(parse_bytes("2 KiB"), Some(2048));
/// assert_eq!(parse_bytes("1.5 MB"), Some(1_500_000));
/// assert_eq!(parse_bytes("12"), Some(12));
/// assert_eq!(parse_bytes("lots"), None);
/// assert_eq!(parse_bytes("-1 GB"), None);
/// ```
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.trim().parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return None;
    }
    Some(bytes as u64)
}
